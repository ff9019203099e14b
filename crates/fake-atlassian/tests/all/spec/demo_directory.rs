//! The demo directory holds more than 10 managed accounts, and more than 10 ids the Confluence
//! source cannot resolve, so the demo itself makes the admin source send several chunks.

use fake_atlassian::Directory;

#[test]
fn demo_exceeds_one_admin_chunk() {
    let d = Directory::demo();
    let managed = d.users.iter().filter(|u| u.managed).count();
    let hidden = d.users.iter().filter(|u| u.is_hidden()).count();
    assert!(managed > 10, "{managed} managed");
    assert!(
        hidden > 10,
        "{hidden} hidden: what auto order leaves to admin"
    );
}
