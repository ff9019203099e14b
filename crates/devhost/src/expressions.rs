//! Application variables: their names, their declaration ([`Variable`]), `{{ name }}`
//! templates, and resolving their values.
//!
//! The rules follow Spin's `spin-expressions` crate: a name starts with a lowercase ASCII
//! letter, holds only lowercase letters, digits and single underscores, and ends with a letter
//! or digit. A template is literal text with `{{ name }}` expressions. Application variables
//! are resolved, highest priority first, from `--variable` values, then `SPIN_VARIABLE_<NAME>`
//! environment variables, then the manifest default; a required variable with none of these
//! fails with Spin's message. Error messages name variables, never their values.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use anyhow::{bail, Context};

/// The prefix of the environment variables Spin's `env` provider reads.
pub const ENV_PREFIX: &str = "SPIN_VARIABLE_";

/// An application variable, as the manifest's `[variables]` declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// The default; `None` means `required = true`.
    pub default: Option<String>,
    /// `secret = true` (metadata only: Spin redacts nothing a component prints).
    pub secret: bool,
}

/// Checks a variable name against Spin's rules; the error reads like Spin's
/// `invalid variable name: "X": reason`.
pub fn validate_key(key: &str) -> Result<(), String> {
    let reason = if key.is_empty() {
        Some("must not be empty".to_string())
    } else if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        Some(format!(
            "invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        ))
    } else if !key.as_bytes()[0].is_ascii_lowercase() {
        Some("must start with a lowercase ASCII letter".to_string())
    } else if !key.as_bytes()[key.len() - 1].is_ascii_alphanumeric() {
        Some("must end with a lowercase ASCII letter or digit".to_string())
    } else if key.contains("__") {
        Some("must not contain multiple consecutive underscores".to_string())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(format!("invalid variable name: {key:?}: {reason}")),
        None => Ok(()),
    }
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// A `{{ name }}` expression (the name, trimmed).
    Expr(String),
}

/// A string with `{{ variable }}` expressions, as in Spin manifests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses a template; an unmatched `{{` is an error, as in Spin.
    pub fn parse(template: &str) -> anyhow::Result<Template> {
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            if let Some(expr_rest) = rest.strip_prefix("{{") {
                let Some((expr, after)) = expr_rest.split_once("}}") else {
                    bail!("invalid variable template: unmatched '{{{{' in template");
                };
                parts.push(Part::Expr(expr.trim().to_string()));
                rest = after;
            } else if let Some(idx) = rest.find("{{") {
                parts.push(Part::Lit(rest[..idx].to_string()));
                rest = &rest[idx..];
            } else {
                parts.push(Part::Lit(rest.to_string()));
                rest = "";
            }
        }
        Ok(Template { parts })
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// True if the template has no expressions.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The variable names the template uses.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(name) => Some(name.as_str()),
            Part::Lit(_) => None,
        })
    }

    /// Renders the template with resolved application variables.
    pub fn render(&self, values: &HashMap<String, String>) -> anyhow::Result<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(lit) => out.push_str(lit),
                Part::Expr(name) => match values.get(name) {
                    Some(value) => out.push_str(value),
                    None => bail!("invalid variable name: {name:?}"),
                },
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Lit(lit) => f.write_str(lit)?,
                Part::Expr(name) => write!(f, "{{{{ {name} }}}}")?,
            }
        }
        Ok(())
    }
}

/// Reads a `--variable` value: `@path` means the content of that file, kept exactly
/// (a trailing newline included), as `spin up` does.
pub fn read_variable_value(name: &str, value: &str) -> anyhow::Result<String> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("failed to read the file given for variable {name:?}")),
        None => Ok(value.to_string()),
    }
}

/// Resolves every application variable, in Spin's order: `cli` (the `--variable` values,
/// the last of repeated names winning) > `SPIN_VARIABLE_<NAME>` in `env` > the default.
///
/// Fails on a `--variable` naming an undeclared variable and on a required variable left
/// without a value (`provider error: no provider resolved required variable "x"`).
pub fn resolve_app_variables(
    declared: &BTreeMap<String, Variable>,
    cli: &[(String, String)],
    env: &HashMap<String, String>,
) -> anyhow::Result<HashMap<String, String>> {
    let mut given: HashMap<&str, String> = HashMap::new();
    for (name, value) in cli {
        if !declared.contains_key(name) {
            if let Err(reason) = validate_key(name) {
                bail!("--variable {name:?} is not a valid variable name ({reason})");
            }
            bail!(
                "--variable {name:?} is not declared in the manifest's [variables] section \
                 (declared: {})",
                declared.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        given.insert(name, read_variable_value(name, value)?);
    }
    let mut resolved = HashMap::new();
    for (name, var) in declared {
        let env_name = format!("{ENV_PREFIX}{}", name.to_ascii_uppercase());
        let value = match given.remove(name.as_str()) {
            Some(value) => value,
            None => match env.get(&env_name) {
                Some(value) => value.clone(),
                None => match &var.default {
                    Some(default) => default.clone(),
                    None => {
                        bail!("provider error: no provider resolved required variable {name:?}")
                    }
                },
            },
        };
        resolved.insert(name.clone(), value);
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> BTreeMap<String, Variable> {
        let mut vars = BTreeMap::new();
        vars.insert(
            "api_key".to_string(),
            Variable {
                default: None,
                secret: true,
            },
        );
        vars.insert(
            "region".to_string(),
            Variable {
                default: Some("eu".to_string()),
                secret: false,
            },
        );
        vars
    }

    #[test]
    fn accepts_spin_variable_names() {
        for key in ["a", "abc", "a1b2c3", "a_1", "a_1_b_3", "api_key"] {
            assert!(validate_key(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn rejects_bad_variable_names() {
        for key in ["", "aX", "1bc", "_x", "x.y", "x_", "a__b", "x-y"] {
            assert!(validate_key(key).is_err(), "{key}");
        }
        let err = validate_key("a__b").unwrap_err();
        assert!(err.starts_with("invalid variable name: \"a__b\""), "{err}");
    }

    #[test]
    fn parses_templates_like_spin() -> anyhow::Result<()> {
        let t = Template::parse("a-{{ expr }}-b")?;
        assert_eq!(
            t.parts(),
            &[
                Part::Lit("a-".into()),
                Part::Expr("expr".into()),
                Part::Lit("-b".into())
            ]
        );
        let t = Template::parse("{{e1}}{{ e2 }}")?;
        assert_eq!(
            t.parts(),
            &[Part::Expr("e1".into()), Part::Expr("e2".into())]
        );
        assert!(Template::parse("")?.parts().is_empty());
        assert!(Template::parse("plain")?.is_literal());
        assert!(Template::parse("{{ ok }} {{ unmatched").is_err());
        assert_eq!(Template::parse("x{{a}}y")?.to_string(), "x{{ a }}y");
        Ok(())
    }

    #[test]
    fn renders_mixed_literal_text() -> anyhow::Result<()> {
        let values = HashMap::from([("host".to_string(), "example.com".to_string())]);
        let t = Template::parse("https://{{ host }}/x")?;
        assert_eq!(t.render(&values)?, "https://example.com/x");
        assert!(Template::parse("{{ other }}")?.render(&values).is_err());
        Ok(())
    }

    #[test]
    fn cli_beats_env_beats_default() -> anyhow::Result<()> {
        let declared = declared();
        let env = HashMap::from([
            ("SPIN_VARIABLE_API_KEY".to_string(), "from-env".to_string()),
            ("SPIN_VARIABLE_REGION".to_string(), "us".to_string()),
        ]);
        let r = resolve_app_variables(&declared, &[], &env)?;
        assert_eq!(r["api_key"], "from-env");
        assert_eq!(r["region"], "us");

        let cli = vec![("api_key".to_string(), "from-cli".to_string())];
        let r = resolve_app_variables(&declared, &cli, &env)?;
        assert_eq!(r["api_key"], "from-cli");

        let cli = vec![("api_key".to_string(), "k".to_string())];
        let r = resolve_app_variables(&declared, &cli, &HashMap::new())?;
        assert_eq!(r["region"], "eu");
        Ok(())
    }

    #[test]
    fn last_repeated_cli_value_wins() -> anyhow::Result<()> {
        let cli = vec![
            ("api_key".to_string(), "first".to_string()),
            ("api_key".to_string(), "second".to_string()),
        ];
        let r = resolve_app_variables(&declared(), &cli, &HashMap::new())?;
        assert_eq!(r["api_key"], "second");
        Ok(())
    }

    #[test]
    fn env_names_are_uppercased_exactly() -> anyhow::Result<()> {
        // Lowercase environment names are not read, as with Spin's env provider.
        let env = HashMap::from([("spin_variable_api_key".to_string(), "x".to_string())]);
        let err = resolve_app_variables(&declared(), &[], &env).unwrap_err();
        assert!(err.to_string().contains("api_key"));
        Ok(())
    }

    #[test]
    fn required_variable_without_value_fails_like_spin() {
        let err = resolve_app_variables(&declared(), &[], &HashMap::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "provider error: no provider resolved required variable \"api_key\""
        );
    }

    #[test]
    fn undeclared_cli_variable_is_an_error() {
        let cli = vec![("nope".to_string(), "v".to_string())];
        let err = resolve_app_variables(&declared(), &cli, &HashMap::new()).unwrap_err();
        assert!(
            err.to_string().contains("\"nope\" is not declared"),
            "{err}"
        );
    }

    #[test]
    fn at_file_keeps_trailing_newline() -> anyhow::Result<()> {
        let file = tempfile::NamedTempFile::new()?;
        std::fs::write(file.path(), "secret-value\n")?;
        let cli = vec![("api_key".to_string(), format!("@{}", file.path().display()))];
        let r = resolve_app_variables(&declared(), &cli, &HashMap::new())?;
        assert_eq!(r["api_key"], "secret-value\n");
        Ok(())
    }

    #[test]
    fn missing_at_file_names_the_variable() {
        let cli = vec![("api_key".to_string(), "@/nonexistent/devhost".to_string())];
        let err = resolve_app_variables(&declared(), &cli, &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("\"api_key\""), "{err}");
    }
}
