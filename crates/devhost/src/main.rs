//! The `devhost` command line: `devhost build` and `devhost up`, mirroring `spin build` and
//! `spin up` where they overlap. A dev and test host, not a production runtime; production
//! is Spin.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use devhost::{App, UpOptions};

/// devhost: a dev and test host, not a production runtime; production is Spin.
///
/// Runs this project's Spin component (wasi:http, fermyon:spin/variables) on wasmtime the way
/// `spin up` does where it matters: manifest variables, SPIN_VARIABLE_* and --variable,
/// allowed_outbound_hosts enforcement, the spin-* request headers, a fresh instance per
/// request.
#[derive(Parser)]
#[command(name = "devhost", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run each component's build command, like `spin build`.
    Build {
        /// The application manifest.
        #[arg(
            short = 'f',
            long = "from",
            visible_alias = "file",
            default_value = "spin.toml"
        )]
        manifest: PathBuf,
    },
    /// Serve the application over HTTP, like `spin up`.
    Up(UpArgs),
}

#[derive(Args)]
struct UpArgs {
    /// The application manifest.
    #[arg(
        short = 'f',
        long = "from",
        visible_alias = "file",
        default_value = "spin.toml"
    )]
    manifest: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Set an application variable (NAME=VALUE, or NAME=@file for a file's exact content).
    /// Highest priority, above SPIN_VARIABLE_NAME and the manifest default.
    #[arg(long = "variable", value_name = "NAME=VALUE")]
    variables: Vec<String>,
    /// Run the build commands first, like `spin up --build`.
    #[arg(long)]
    build: bool,
    /// Where component stdout/stderr go (default: .spin/logs next to the manifest).
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Do not echo component output to this terminal (it still goes to the log files).
    #[arg(short, long)]
    quiet: bool,
    /// Open a new outbound connection per request instead of keeping connections alive and
    /// reusing them per host (Spin's runtime config `[outbound_http] connection_pooling = false`).
    #[arg(long)]
    no_connection_pooling: bool,
    /// The most bytes one instance's linear memory may grow to, as Spin's option of the same
    /// name (a whole number of bytes; a `memory.grow` past it fails inside the component).
    #[arg(long, env = "SPIN_MAX_INSTANCE_MEMORY")]
    max_instance_memory: Option<usize>,
    /// Also start a fake Atlassian in-process and point the Atlassian variables at it, with a
    /// random api_key printed at startup. Your --variable values still win.
    #[arg(long)]
    demo: bool,
}

/// How many demo account ids `--demo` prints.
const DEMO_IDS_SHOWN: usize = 3;

/// Runs the command; an error is printed as one plain line (its causes joined by `: `) and
/// exits 1. Never `anyhow`'s `Debug`, which appends a stack backtrace under `RUST_BACKTRACE`:
/// a missing target or a taken port is the user's to fix, not a crash.
#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build { manifest } => devhost::build(&manifest),
        Command::Up(args) => up(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `Error: ` and the error with its causes, on one line, without a backtrace.
fn error_line(e: &anyhow::Error) -> String {
    format!("Error: {e:#}")
}

fn parse_variable(arg: &str) -> anyhow::Result<(String, String)> {
    match arg.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => bail!(
            "--variable {arg:?} must be NAME=VALUE or NAME=@file \
             (whole-file @vars.json / @vars.toml is not supported by devhost)"
        ),
    }
}

/// 24 bytes from /dev/urandom as 48 lowercase hex characters.
fn random_key() -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("failed to read /dev/urandom for the demo api_key")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

async fn up(args: UpArgs) -> anyhow::Result<()> {
    if args.build {
        devhost::build(&args.manifest)?;
    }
    let mut variables = Vec::new();

    // The demo's values come first so that the user's --variable values override them.
    let mut demo = None;
    if args.demo {
        let fake = fake_atlassian::FakeAtlassian::start(
            "127.0.0.1:0".parse()?,
            fake_atlassian::Directory::demo(),
            fake_atlassian::Credentials::default(),
        )
        .await?;
        let url = fake.url().to_string();
        let creds = fake.credentials().clone();
        let key = random_key()?;
        for (name, value) in [
            ("api_key", key.clone()),
            ("atlassian_api_url", url.clone()),
            // The fake is plain http on 127.0.0.1: allowed by this test-only setting.
            ("allow_loopback_http", "true".to_string()),
            ("atlassian_org_id", creds.org_id.to_string()),
            ("atlassian_admin_api_key", creds.admin_api_key.to_string()),
            ("confluence_url", url.clone()),
            ("confluence_email", creds.site_email.to_string()),
            ("confluence_api_token", creds.site_api_token.to_string()),
        ] {
            variables.push((name.to_string(), value));
        }
        demo = Some((fake, url, key));
    }
    for arg in &args.variables {
        variables.push(parse_variable(arg)?);
    }

    let app = Arc::new(App::load(&args.manifest)?);
    let env: HashMap<String, String> = std::env::vars().collect();
    let server = app
        .serve(UpOptions {
            listen: Some(args.listen),
            variables: variables.clone(),
            env,
            log_dir: args.log_dir.clone(),
            echo_logs: !args.quiet,
            connection_pooling: !args.no_connection_pooling,
            max_instance_memory: args.max_instance_memory,
        })
        .await?;

    let url = server.url();
    println!(
        "Logging component stdio to {:?}",
        display_dir(server.log_dir())
    );
    println!();
    println!("Serving {url}");
    println!("Available Routes:");
    for route in app.routes() {
        println!("  {}: {url}{route}", route.component);
    }

    if let Some((_fake, fake_url, key)) = &demo {
        // The key actually in effect: a user --variable api_key=... wins over the demo key.
        let key_in_effect = variables
            .iter()
            .rev()
            .find(|(name, _)| name == "api_key")
            .map(|(_, v)| v.as_str())
            .unwrap_or(key);
        let ids: Vec<String> = fake_atlassian::Directory::demo()
            .users
            .iter()
            .take(DEMO_IDS_SHOWN)
            .map(|u| u.account_id.clone())
            .collect();
        println!();
        println!("Demo mode: a fake Atlassian (admin API and Confluence) is running at {fake_url}");
        println!("  Trigger URL (POST):  {url}/");
        println!("  Admin page:          {url}/admin");
        println!("  API key (X-Api-Key): {key_in_effect}");
        println!("  Some demo account ids:");
        for user in fake_atlassian::Directory::demo()
            .users
            .iter()
            .take(DEMO_IDS_SHOWN)
        {
            println!("    {}  ({})", user.account_id, user.email);
        }
        let ids_json = ids
            .iter()
            .map(|id| format!("\"{id}\""))
            .collect::<Vec<_>>()
            .join(",");
        println!("  Try:");
        println!(
            "    curl -s -X POST {url}/ -H 'X-Api-Key: {key_in_effect}' \
             -H 'Content-Type: application/json' -d '{{\"accountIds\":[{ids_json}]}}'"
        );
    }
    println!();
    println!("Press Ctrl-C to stop.");

    tokio::signal::ctrl_c()
        .await
        .context("failed to wait for Ctrl-C")?;
    println!();
    println!("Stopping.");
    server.shutdown().await;
    if let Some((fake, _, _)) = demo {
        fake.shutdown().await;
    }
    Ok(())
}

fn display_dir(dir: &Path) -> String {
    let mut shown = dir.display().to_string();
    if !shown.ends_with('/') {
        shown.push('/');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_variable_arguments() -> anyhow::Result<()> {
        assert_eq!(parse_variable("a=b=c")?, ("a".into(), "b=c".into()));
        assert_eq!(parse_variable("a=")?, ("a".into(), "".into()));
        assert_eq!(parse_variable("a=@f")?, ("a".into(), "@f".into()));
        assert!(parse_variable("novalue").is_err());
        assert!(parse_variable("=x").is_err());
        Ok(())
    }

    #[test]
    fn random_key_is_48_hex_chars() -> anyhow::Result<()> {
        let key = random_key()?;
        assert_eq!(key.len(), 48);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(key, random_key()?);
        Ok(())
    }

    #[test]
    fn errors_print_as_one_line_without_a_backtrace() {
        let e = anyhow::anyhow!("cause").context("what failed");
        assert_eq!(error_line(&e), "Error: what failed: cause");
    }

    #[test]
    fn max_instance_memory_is_whole_bytes_like_spin() {
        let parse = |args: &[&str]| {
            let mut all = vec!["devhost", "up"];
            all.extend_from_slice(args);
            Cli::try_parse_from(all).map(|cli| match cli.command {
                Command::Up(up) => up.max_instance_memory,
                Command::Build { .. } => None,
            })
        };
        assert_eq!(
            parse(&["--max-instance-memory", "8388608"]).ok(),
            Some(Some(8 << 20))
        );
        // Spin's parser (clap's usize): no unit suffix, no empty value.
        for bad in ["8M", "8MiB", "", "-1", "8 388 608"] {
            assert!(
                parse(&["--max-instance-memory", bad]).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn help_says_not_production() {
        use clap::CommandFactory;
        let help = Cli::command().render_help().to_string();
        let first = help.lines().next().unwrap_or_default();
        assert!(
            first.contains("not a production runtime; production is Spin"),
            "{first}"
        );
    }
}
