//! The inverted word index behind `find`: every word of a snap's name, title, summary, description
//! and publisher → the snaps that have it, so a query costs the size of its answer, not of the
//! catalog. A query word matches the words it begins (`tool` finds `tools` and `toolbox`), the
//! way a search box is typed into; names that begin with or contain the query rank first.

use std::collections::{BTreeMap, HashMap};

/// Snaps are numbered by their position in the catalog's name order.
pub type SnapNo = u32;

#[derive(Debug, Default)]
pub struct SearchIndex {
    /// Lower-cased names, sorted (a name prefix is one contiguous range).
    names: Vec<String>,
    words: BTreeMap<String, Vec<SnapNo>>,
    categories: HashMap<String, Vec<SnapNo>>,
}

/// The words of a text: runs of letters and digits, lower-cased.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// One snap as the index sees it.
pub struct Entry<'a> {
    pub name: &'a str,
    pub text: &'a str,
    pub categories: Vec<&'a str>,
}

impl SearchIndex {
    /// Build from the snaps in name order.
    pub fn build<'a>(snaps: impl Iterator<Item = Entry<'a>>) -> SearchIndex {
        let mut index = SearchIndex::default();
        for (no, snap) in snaps.enumerate() {
            let no = no as SnapNo;
            index.names.push(snap.name.to_lowercase());
            for word in words(snap.name).chain(words(snap.text)) {
                let list = index.words.entry(word).or_default();
                if list.last() != Some(&no) {
                    list.push(no);
                }
            }
            for c in snap.categories {
                index.categories.entry(c.to_string()).or_default().push(no);
            }
        }
        index
    }

    /// The snaps with a word that begins with `prefix`, in order.
    fn with_word_prefix(&self, prefix: &str) -> Vec<SnapNo> {
        let mut out: Vec<SnapNo> = self
            .words
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(w, _)| w.starts_with(prefix))
            .flat_map(|(_, list)| list.iter().copied())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Snaps matching a query, best first: exact name, name prefix, the query in the name (at a
    /// word's start), then every query word beginning a word of the snap. `category` (already a known one) and
    /// `name_prefix` narrow it down; `None` for all three lists every snap in name order.
    pub fn find(
        &self,
        q: Option<&str>,
        name_prefix: Option<&str>,
        category: Option<&[SnapNo]>,
    ) -> Vec<SnapNo> {
        let q = q.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        let prefix = name_prefix
            .map(|s| s.trim().trim_end_matches('*').to_lowercase())
            .filter(|s| !s.is_empty());
        let (lo, hi) = match &prefix {
            Some(p) => (
                self.names.partition_point(|n| n.as_str() < p.as_str()),
                self.names
                    .partition_point(|n| n.as_str() < p.as_str() || n.starts_with(p.as_str())),
            ),
            None => (0, self.names.len()),
        };
        let allowed = |no: SnapNo| {
            (lo..hi).contains(&(no as usize))
                && category.is_none_or(|c| c.binary_search(&no).is_ok())
        };
        let Some(q) = q else {
            let all: Vec<SnapNo> = match category {
                Some(c) => c.to_vec(),
                None => (lo as SnapNo..hi as SnapNo).collect(),
            };
            return all.into_iter().filter(|n| allowed(*n)).collect();
        };
        // Candidates: the snaps whose words begin with every query word (their names' words
        // included), and the names that begin with the query; ranked by how the name matches.
        let mut candidates: Option<Vec<SnapNo>> = None;
        for word in words(&q) {
            let found = self.with_word_prefix(&word);
            candidates = Some(match candidates {
                None => found,
                Some(prev) => intersect(&prev, &found),
            });
        }
        let mut candidates = candidates.unwrap_or_default();
        let first = self.names.partition_point(|n| n.as_str() < q.as_str());
        let named = self.names[first..]
            .iter()
            .take_while(|n| n.starts_with(q.as_str()))
            .count();
        candidates.extend((first..first + named).map(|n| n as SnapNo));
        candidates.sort_unstable();
        candidates.dedup();
        let finder = memchr::memmem::Finder::new(q.as_bytes());
        let mut hits: Vec<(u8, SnapNo)> = candidates
            .into_iter()
            .filter(|no| allowed(*no))
            .map(|no| {
                let name = &self.names[no as usize];
                let rank = if *name == q {
                    0
                } else if name.starts_with(q.as_str()) {
                    1
                } else if finder.find(name.as_bytes()).is_some() {
                    2
                } else {
                    3
                };
                (rank, no)
            })
            .collect();
        // Numbers follow name order, so this is (rank, name).
        hits.sort_unstable();
        hits.into_iter().map(|(_, no)| no).collect()
    }

    /// The snaps of a category, in name order (empty for an unknown one).
    pub fn category(&self, name: &str) -> &[SnapNo] {
        self.categories.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Two sorted lists' common entries.
fn intersect(a: &[SnapNo], b: &[SnapNo]) -> Vec<SnapNo> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> SearchIndex {
        let snaps = [
            ("alpha-tool", "Alpha\nA tool for alphas", vec!["utilities"]),
            (
                "beta",
                "Beta\nToolbox of betas\nby Tool Makers",
                vec!["games"],
            ),
            ("gamma", "Gamma\nA stool", vec!["utilities"]),
            ("tool", "Tool\nThe tool", vec![]),
        ];
        SearchIndex::build(snaps.iter().map(|(name, text, cats)| Entry {
            name,
            text,
            categories: cats.clone(),
        }))
    }

    fn names(i: &SearchIndex, found: Vec<SnapNo>) -> Vec<String> {
        found
            .into_iter()
            .map(|n| i.names[n as usize].clone())
            .collect()
    }

    #[test]
    fn ranks_names_then_words_and_narrows() {
        let i = index();
        // Exact name, name prefix… then words beginning with "tool" ("stool" does not).
        assert_eq!(
            names(&i, i.find(Some("tool"), None, None)),
            ["tool", "alpha-tool", "beta"]
        );
        assert_eq!(names(&i, i.find(Some("TOOL makers"), None, None)), ["beta"]);
        assert_eq!(names(&i, i.find(Some("alp"), None, None)), ["alpha-tool"]);
        assert!(i.find(Some("nothing"), None, None).is_empty());
        let utilities = i.category("utilities").to_vec();
        assert_eq!(
            names(&i, i.find(Some("tool"), None, Some(&utilities))),
            ["alpha-tool"]
        );
        assert_eq!(names(&i, i.find(None, Some("g*"), None)), ["gamma"]);
        assert_eq!(
            names(&i, i.find(None, None, Some(&utilities))),
            ["alpha-tool", "gamma"]
        );
        assert_eq!(i.find(None, None, None).len(), 4);
        assert!(i.category("unknown").is_empty());
    }
}
