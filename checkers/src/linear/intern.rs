//! Values as small integers, so states hash and compare in a few instructions.

use rustc_hash::FxHashMap;
use serde_json::Value;

/// Interned id of `null`: every model's "absent" value.
pub const NIL: u32 = 0;

#[derive(Debug)]
pub struct Interner {
    ids: FxHashMap<String, u32>,
    values: Vec<Value>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut interner = Interner {
            ids: FxHashMap::default(),
            values: Vec::new(),
        };
        interner.intern(&Value::Null);
        interner
    }
}

impl Interner {
    pub fn intern(&mut self, value: &Value) -> u32 {
        // The canonical JSON text is the identity: 1 and "1" stay distinct.
        let text = value.to_string();
        if let Some(&id) = self.ids.get(&text) {
            return id;
        }
        let id = self.values.len() as u32;
        self.ids.insert(text, id);
        self.values.push(value.clone());
        id
    }

    pub fn value(&self, id: u32) -> &Value {
        &self.values[id as usize]
    }

    pub fn render(&self, id: u32) -> String {
        match self.value(id) {
            Value::Null => "nil".to_string(),
            other => other.to_string(),
        }
    }
}
