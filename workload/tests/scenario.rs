//! Presets, workload files, validation.

use std::error::Error as _;

use socialbench_workload::{
    Action, Invalid, InvalidKind, Mix, Scenario, SortName, Workload, WorkloadError,
};

/// The message of the error `text` gives, which must fit on one line.
fn invalid(text: &str) -> String {
    match Scenario::from_toml(text) {
        Err(e) => {
            let m = e.to_string();
            assert!(!m.contains('\n'), "more than one line: {m}");
            m
        }
        Ok(_) => panic!("expected an error for {text:?}"),
    }
}

#[test]
fn every_preset_validates_and_reddit_has_the_documented_mix() {
    for name in Scenario::PRESETS {
        let s = Scenario::preset(name).unwrap();
        assert_eq!(s.preset, name);
        s.validate().unwrap();
    }
    let r = Scenario::preset("reddit").unwrap();
    let total: f64 = r.mix.weights().iter().sum();
    assert!((total - 1.0).abs() < 1e-12);
    assert!((r.mix.home_feed - 0.85 * 0.85).abs() < 1e-12);
    assert!((r.mix.join - 0.001 * 0.01).abs() < 1e-15);
    assert_eq!(r.role_shares(), [0.01, 0.09, 0.90]);
    assert!(!r.roles.lurker.actions.contains(&Action::Vote));
    assert!(r.roles.lurker.actions.contains(&Action::Join));
}

#[test]
fn unknown_presets_name_the_known_ones() {
    let e = Scenario::from_arg("redit").unwrap_err();
    assert!(matches!(e, WorkloadError::UnknownPreset { .. }));
    assert!(
        e.to_string().contains("reddit, microblog, messenger, chat"),
        "{e}"
    );
}

#[test]
fn a_file_overrides_its_preset() {
    let s = Scenario::from_toml(
        r#"
        preset = "chat"
        users = 500
        [mix]
        search = 0.5
        [reads]
        community_sort = "top"
        [roles.lurker]
        actions = ["home_feed", "join"]
        "#,
    )
    .unwrap();
    assert_eq!(s.preset, "chat");
    assert_eq!(s.users, 500);
    assert_eq!(s.communities, Scenario::chat().communities);
    assert_eq!(s.mix.search, 0.5);
    assert_eq!(s.mix.post, Scenario::chat().mix.post);
    assert_eq!(s.reads.community_sort, SortName::Top);
    assert_eq!(s.roles.lurker.actions, vec![Action::HomeFeed, Action::Join]);
    // No preset key: reddit.
    assert_eq!(Scenario::from_toml("users = 7").unwrap().preset, "reddit");
}

#[test]
fn unknown_keys_name_the_key_and_the_allowed_ones() {
    let m = invalid("userz = 5");
    assert!(m.contains("`userz`") && m.contains("users"), "{m}");
    let m = invalid("[mix]\nvotes = 0.1");
    assert!(m.contains("`mix.votes`") && m.contains(", vote)"), "{m}");
}

#[test]
fn bad_values_name_the_key_and_what_is_allowed() {
    let m = invalid("[reads]\nhome_sort = \"hott\"");
    assert!(m.contains("reads.home_sort") && m.contains("`hot`"), "{m}");
    let m = invalid("[roles.lurker]\nactions = [\"read\"]");
    assert!(
        m.contains("roles.lurker.actions") && m.contains("home_feed"),
        "{m}"
    );
    let m = invalid("users = \"many\"");
    assert!(m.contains("`users`") && m.contains("integer"), "{m}");
    let m = invalid("users = 0");
    assert!(m.contains("`users`") && m.contains("1..=2^30"), "{m}");
    let m = invalid("[zipf]\ncommunity = -1");
    assert!(m.contains("zipf.community"), "{m}");
    let m = invalid("[invalid]\nshare = 1.5");
    assert!(m.contains("invalid.share"), "{m}");
    let m = invalid("preset = \"mastodon\"");
    assert!(m.contains("preset") && m.contains("microblog"), "{m}");
    let m = invalid("[bodies.post]\nmax = 50000");
    assert!(m.contains("bodies.post.max"), "{m}");
    let m = invalid("users = [");
    assert!(m.contains("TOML") && m.contains("line 1"), "{m}");
    let m = invalid("[invalid]\nunknown_post = -1");
    assert!(m.contains("`invalid.unknown_post`"), "{m}");
    // A role left with nothing to do.
    let m = invalid("[roles.lurker]\nactions = [\"follow\"]");
    assert!(m.contains("roles.lurker.actions"), "{m}");
}

#[test]
fn files_are_read_from_disk_and_missing_ones_say_so() {
    let dir = std::env::temp_dir().join(format!("sb-workload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("w.toml");
    std::fs::write(&path, "preset = \"messenger\"\nusers = 321\n").unwrap();
    let s = Scenario::from_arg(path.to_str().unwrap()).unwrap();
    assert_eq!((s.preset.as_str(), s.users), ("messenger", 321));
    std::fs::write(&path, "nope = 1\n").unwrap();
    let e = Scenario::from_arg(path.to_str().unwrap()).unwrap_err();
    assert!(e.to_string().contains("w.toml"), "{e}");
    match &e {
        WorkloadError::File { path: p, source } => {
            assert_eq!(p, &path);
            assert!(
                matches!(**source, WorkloadError::UnknownKey { .. }),
                "{e:?}"
            );
        }
        other => panic!("expected File, got {other:?}"),
    }
    let missing = dir.join("missing.toml");
    let e = Scenario::from_arg(missing.to_str().unwrap()).unwrap_err();
    match &e {
        WorkloadError::Io { path, source } => {
            assert_eq!(path, &missing);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io, got {other:?}"),
    }
    // Only a regular file of at most MAX_FILE_BYTES: a device would never
    // end, a folder is no file, and a huge file is no workload.
    for (arg, says) in [
        ("/dev/zero".to_string(), "not a regular file"),
        (dir.to_str().unwrap().to_string(), "not a regular file"),
    ] {
        let e = Scenario::from_file(std::path::Path::new(&arg)).unwrap_err();
        assert!(e.to_string().contains(says), "{arg}: {e}");
    }
    let big = dir.join("big.toml");
    let mut text = "preset = \"reddit\"\n".to_string();
    text.push_str(
        &"# padding\n".repeat(socialbench_workload::scenario::MAX_FILE_BYTES as usize / 10 + 1),
    );
    std::fs::write(&big, text).unwrap();
    let e = Scenario::from_arg(big.to_str().unwrap()).unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_harness_may_override_users_and_workload_new_validates() {
    let s = Scenario::reddit().with_users(10_000);
    assert_eq!((s.users, s.communities), (10_000, 100));
    let mut s = Scenario::reddit();
    s.users = 0;
    assert!(Workload::new(s, 1).is_err());
    let mut s = Scenario::microblog();
    s.mix.community_feed = 0.1; // microblog has no communities
    assert!(
        s.validate()
            .unwrap_err()
            .to_string()
            .contains("mix.community_feed")
    );
}

#[test]
fn per_user_rate_is_the_inverse_think_time() {
    let s = Scenario::reddit();
    assert!((s.per_user_rate() - 0.1).abs() < 1e-12);
}

#[test]
fn a_toml_syntax_error_keeps_the_parser_error_and_its_position() {
    let e = Scenario::from_toml("users = 5\n[mix\nvote = 1").unwrap_err();
    let WorkloadError::Toml { line, column, .. } = &e else {
        panic!("expected Toml, got {e:?}");
    };
    assert_eq!((*line, *column), (2, 5), "{e}");
    let source = e.source().expect("a source");
    assert!(
        source.downcast_ref::<toml::de::Error>().is_some(),
        "{source:?}"
    );
}

#[test]
fn a_rejected_name_keeps_the_deserializer_error_and_names_the_key() {
    let e = Scenario::from_toml("[reads]\nhome_sort = \"hott\"").unwrap_err();
    match &e {
        WorkloadError::Field { key, source } => {
            assert_eq!(key.as_deref(), Some("reads.home_sort"));
            assert!(source.message().contains("`hott`"), "{source}");
        }
        other => panic!("expected Field, got {other:?}"),
    }
}

#[test]
fn action_and_invalid_kind_names_are_their_keys_in_workload_files() {
    // A table with every name at 0 but `one` at 1: deserializing it checks
    // that the names are exactly the fields (no field missing, none
    // unknown), and the weights show that index i is the field of ALL[i].
    fn table(names: &[&str], one: &str) -> toml::Table {
        let mut t: toml::Table = names
            .iter()
            .map(|n| (n.to_string(), toml::Value::Float(0.0)))
            .collect();
        t.insert(one.to_string(), toml::Value::Float(1.0));
        t
    }
    let names = Action::ALL.map(Action::name);
    for (i, a) in Action::ALL.into_iter().enumerate() {
        assert_eq!(a as usize, i);
        assert_eq!(serde_json::to_value(a).unwrap(), a.name());
        let mix: Mix = toml::Value::Table(table(&names, a.name()))
            .try_into()
            .unwrap();
        assert_eq!(mix.weight(a), 1.0, "{a:?}");
        assert_eq!(mix.weights().iter().sum::<f64>(), 1.0, "{a:?}");
    }
    let mut names = InvalidKind::ALL.map(InvalidKind::name).to_vec();
    names.push("share");
    for (i, k) in InvalidKind::ALL.into_iter().enumerate() {
        assert_eq!(k as usize, i);
        let invalid: Invalid = toml::Value::Table(table(&names, k.name()))
            .try_into()
            .unwrap();
        assert_eq!(invalid.weights()[i], 1.0, "{k:?}");
        assert_eq!(invalid.weights().iter().sum::<f64>(), 1.0, "{k:?}");
    }
}
