//! The fetcher cache's bookkeeping (upstream `FetcherProcess::Cache`): entries keyed by
//! user and URI, each a file `c<serial>-<base name>` in the (per-user) cache directory;
//! space reserved within a total, least recently used unreferenced entries evicted to make
//! room. Pure state: the fetcher process owns it and does the file IO it asks for.

use std::collections::HashMap;
use std::path::PathBuf;

use libprocess::{Future, Promise};

/// An entry: being downloaded (`size` unknown), or complete.
#[derive(Debug)]
pub struct Entry {
    /// The cache file.
    pub path: PathBuf,
    /// Its size once complete (what it counts against the cache's total).
    pub size: Option<u64>,
    /// Fetches using it now; a referenced entry is never evicted.
    pub references: usize,
    /// When it was last used (a counter): the smallest goes first.
    pub last_used: u64,
    completion: Promise<()>,
}

impl Entry {
    /// Completes once the entry is downloaded (fails if it could not be).
    pub fn completion(&self) -> Future<()> {
        self.completion.future()
    }

    /// True while it is being downloaded.
    #[cfg(test)]
    pub fn is_pending(&self) -> bool {
        self.size.is_none()
    }
}

/// The cache: entries by key, and the space they use.
#[derive(Debug)]
pub struct Cache {
    total: u64,
    entries: HashMap<String, Entry>,
    serial: u64,
    clock: u64,
}

/// The key of `uri` fetched for `user` (upstream: `user@uri`, or the URI alone).
pub fn key(user: Option<&str>, uri: &str) -> String {
    match user {
        Some(user) => format!("{user}@{uri}"),
        None => uri.to_owned(),
    }
}

impl Cache {
    /// An empty cache of `total` bytes.
    pub fn new(total: u64) -> Cache {
        Cache {
            total,
            entries: HashMap::new(),
            serial: 0,
            clock: 0,
        }
    }

    /// The cache's size.
    pub fn total_space(&self) -> u64 {
        self.total
    }

    /// The bytes of complete entries.
    pub fn used_space(&self) -> u64 {
        self.entries.values().filter_map(|e| e.size).sum()
    }

    /// How many entries there are (pending ones included).
    #[allow(clippy::len_without_is_empty)] // A count for metrics and tests, not a collection.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry of `key`, referenced and marked used.
    pub fn acquire(&mut self, key: &str) -> Option<&Entry> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.entries.get_mut(key)?;
        entry.references += 1;
        entry.last_used = clock;
        Some(entry)
    }

    /// A new pending entry for `key` whose file is in `directory`, named after `basename`
    /// (upstream: `c<serial>-<name>`, long names shortened to their first and last ten
    /// characters so that the extension survives); referenced once.
    pub fn create(&mut self, key: String, directory: PathBuf, basename: &str) -> &Entry {
        self.serial += 1;
        self.clock += 1;
        let short = if basename.chars().count() > 20 {
            let chars: Vec<char> = basename.chars().collect();
            let head: String = chars[..10].iter().collect();
            let tail: String = chars[chars.len() - 10..].iter().collect();
            format!("{head}_{tail}")
        } else {
            basename.to_owned()
        };
        let entry = Entry {
            path: directory.join(format!("c{}-{short}", self.serial)),
            size: None,
            references: 1,
            last_used: self.clock,
            completion: Promise::new(),
        };
        self.entries.insert(key.clone(), entry);
        &self.entries[&key]
    }

    /// Drops one reference of `key`'s entry.
    pub fn release(&mut self, key: &str) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.references = entry.references.saturating_sub(1);
        }
    }

    /// Makes room for `size` bytes and completes the pending entry `key` with it. On
    /// success, returns the files of the entries evicted (for the caller to delete). When
    /// the room cannot be made the cache is unchanged and the entry is left pending.
    pub fn complete(&mut self, key: &str, size: u64) -> Result<Vec<PathBuf>, String> {
        if size > self.total {
            return Err(format!(
                "the download ({size} bytes) is larger than the fetcher cache ({} bytes)",
                self.total
            ));
        }
        let mut used = self.used_space();
        let mut victims: Vec<(u64, String)> = Vec::new();
        if used + size > self.total {
            let mut candidates: Vec<(u64, &String, u64)> = self
                .entries
                .iter()
                .filter(|(k, e)| k.as_str() != key && e.references == 0)
                .filter_map(|(k, e)| e.size.map(|s| (e.last_used, k, s)))
                .collect();
            candidates.sort();
            for (last_used, k, s) in candidates {
                if used + size <= self.total {
                    break;
                }
                used -= s;
                victims.push((last_used, k.clone()));
            }
            if used + size > self.total {
                return Err("Could not free up enough fetcher cache space".to_owned());
            }
        }
        let evicted = victims
            .into_iter()
            .filter_map(|(_, k)| self.entries.remove(&k))
            .map(|e| e.path)
            .collect();
        let entry = self
            .entries
            .get_mut(key)
            .ok_or_else(|| format!("no cache entry for '{key}'"))?;
        entry.size = Some(size);
        entry.completion.set(());
        Ok(evicted)
    }

    /// Removes the entry `key` (failing its completion if still pending); returns its file.
    pub fn remove(&mut self, key: &str, why: &str) -> Option<PathBuf> {
        let entry = self.entries.remove(key)?;
        entry.completion.fail(why.to_owned());
        Some(entry.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_the_extension() {
        let mut cache = Cache::new(100);
        let entry = cache.create(
            "k".into(),
            "/c".into(),
            "a-very-long-file-name-indeed.tar.gz",
        );
        assert_eq!(entry.path, PathBuf::from("/c/c1-a-very-lon_eed.tar.gz"));
        let entry = cache.create("k2".into(), "/c".into(), "short.zip");
        assert_eq!(entry.path, PathBuf::from("/c/c2-short.zip"));
    }

    #[test]
    fn least_recently_used_unreferenced_entries_are_evicted() {
        let mut cache = Cache::new(100);
        for k in ["a", "b", "c"] {
            cache.create(k.into(), "/c".into(), k);
            cache.complete(k, 30).unwrap();
            cache.release(k);
        }
        assert_eq!(cache.used_space(), 90);
        // `a` is used again: `b` is now the least recently used.
        cache.acquire("a");
        cache.release("a");
        cache.create("d".into(), "/c".into(), "d");
        let evicted = cache.complete("d", 40).unwrap();
        assert_eq!(evicted, vec![PathBuf::from("/c/c2-b")]);
        assert_eq!(cache.used_space(), 100);
        assert!(cache.acquire("b").is_none());
    }

    #[test]
    fn referenced_entries_are_kept_and_too_large_downloads_refused() {
        let mut cache = Cache::new(100);
        cache.create("a".into(), "/c".into(), "a");
        cache.complete("a", 80).unwrap(); // still referenced
        cache.create("b".into(), "/c".into(), "b");
        assert!(cache.complete("b", 30).is_err());
        assert!(cache.complete("b", 101).is_err());
        assert_eq!(cache.used_space(), 80);
        assert!(cache.entries["b"].is_pending());
        let completion = cache.entries["b"].completion();
        assert_eq!(cache.remove("b", "gone"), Some(PathBuf::from("/c/c2-b")));
        assert!(completion.is_failed());
    }
}
