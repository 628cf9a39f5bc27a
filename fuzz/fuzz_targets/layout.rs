//! Layouts: a `layout:` map parsed entry by entry, the cross-entry rules checked, and every source
//! expanded under its root as the sandbox would. An accepted source must stay under its root.
#![no_main]

use std::path::{Path, PathBuf};

use libfuzzer_sys::fuzz_target;
use snapshelf_snap::layout::{self, SourceRoots};
use snapshelf_snap::yaml::{self, Node};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The seeds are whole snap.yaml files: take their `layout:` map, or the text as one.
    let Ok(node) = yaml::parse_node(text) else {
        return;
    };
    let map = match &node {
        Node::Map(top) => match top.iter().find(|(k, _)| k == "layout") {
            Some((_, Node::Map(m))) => m.clone(),
            Some(_) => return,
            None => top.clone(),
        },
        _ => return,
    };
    let mut layouts = Vec::new();
    for (path, entry) in &map {
        match layout::parse_entry(path, entry) {
            Ok(l) => layouts.push(l),
            Err(_) => return,
        }
    }
    if layout::validate_layouts(&layouts, "fuzz-snap").is_err() {
        return;
    }
    let roots = SourceRoots {
        snap: PathBuf::from("/snap/fuzz-snap/1"),
        data: PathBuf::from("/var/snap/fuzz-snap/1"),
        common: PathBuf::from("/var/snap/fuzz-snap/common"),
    };
    for l in &layouts {
        let Some(source) = l.kind.source() else {
            continue;
        };
        if let Ok(p) = layout::expand_source(source, &roots) {
            let inside = [&roots.snap, &roots.data, &roots.common]
                .iter()
                .any(|r| p.starts_with(Path::new(r)));
            assert!(inside, "{source:?} expanded to {p:?}, outside every root");
        }
    }
});
