//! The in-memory store, for tests: the same trait as SQLite, over a map behind a mutex.
//!
//! Writes run on a copy of the data that replaces the original only when the closure
//! succeeds, which is all the atomicity the tests need. Not durable, not fast with much data,
//! and it runs closures inline on the caller's thread: never use it to serve real clients.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
};

use super::{Key, Kind, Reader, Record, Store, StoreError, Tx};

#[derive(Debug, Clone, Default)]
struct Data {
    /// (status, document) by key.
    docs: BTreeMap<Key, (Option<String>, String)>,
    /// Targets by source.
    refs: BTreeMap<Key, Vec<Key>>,
}

/// A store that forgets everything when dropped. Clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    data: Arc<Mutex<Data>>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // A closure that panicked cannot have left a half-written `Data` behind (it works on a
        // copy), so a poisoned lock is still consistent.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reader for Data {
    fn get(&self, key: &Key) -> Result<Option<String>, StoreError> {
        Ok(self.docs.get(key).map(|(_, doc)| doc.clone()))
    }

    fn list(
        &self,
        kind: Kind,
        scope: &str,
        after: Option<&str>,
        status: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        Ok(self
            .docs
            .iter()
            .filter(|(k, (s, _))| {
                k.kind == kind
                    && k.scope == scope
                    && after.is_none_or(|a| k.name.as_str() > a)
                    && status.is_none_or(|want| s.as_deref() == Some(want))
            })
            .take(limit)
            .map(|(k, (_, doc))| Record {
                name: k.name.clone(),
                doc: doc.clone(),
            })
            .collect())
    }

    fn count(&self, kind: Kind, scope: &str, status: Option<&str>) -> Result<u64, StoreError> {
        let n = self
            .docs
            .iter()
            .filter(|(k, (s, _))| {
                k.kind == kind
                    && k.scope == scope
                    && status.is_none_or(|want| s.as_deref() == Some(want))
            })
            .count();
        Ok(n as u64)
    }

    fn referrers(&self, target: &Key) -> Result<Vec<Key>, StoreError> {
        Ok(self
            .refs
            .iter()
            .filter(|(_, targets)| targets.contains(target))
            .map(|(source, _)| source.clone())
            .collect())
    }
}

impl Tx for Data {
    fn put(&mut self, key: &Key, status: Option<&str>, doc: &str) -> Result<(), StoreError> {
        self.docs
            .insert(key.clone(), (status.map(str::to_string), doc.to_string()));
        Ok(())
    }

    fn set_refs(&mut self, source: &Key, targets: &[Key]) -> Result<(), StoreError> {
        if targets.is_empty() {
            self.refs.remove(source);
        } else if self.docs.contains_key(source) {
            self.refs.insert(source.clone(), targets.to_vec());
        } else {
            return Err(StoreError::NotStored(source.clone()));
        }
        Ok(())
    }

    fn delete(&mut self, key: &Key) -> Result<bool, StoreError> {
        self.refs.remove(key);
        Ok(self.docs.remove(key).is_some())
    }
}

impl Store for MemoryStore {
    fn read<R, E, F>(&self, f: F) -> impl Future<Output = Result<R, E>> + Send
    where
        F: FnOnce(&dyn Reader) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let result = f(&*self.lock());
        std::future::ready(result)
    }

    fn write<R, E, F>(&self, f: F) -> impl Future<Output = Result<R, E>> + Send
    where
        F: FnOnce(&mut dyn Tx) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let mut data = self.lock();
        let mut copy = data.clone();
        let result = f(&mut copy);
        if result.is_ok() {
            *data = copy;
        }
        std::future::ready(result)
    }
}
