//! The events of a problem as a doubly linked list in real-time order, from
//! which linearized calls (and their returns) are lifted and put back.

use super::Event;

pub const HEAD: u32 = 0;

/// The list of events, as arrays: entry 0 is the head, entries 1.. the events.
pub struct Entries {
    pub next: Vec<u32>,
    prev: Vec<u32>,
    pub event: Vec<Event>,
    pub call_entry: Vec<u32>,
    return_entry: Vec<Option<u32>>,
}

impl Entries {
    pub fn new(events: &[Event], ops: usize) -> Self {
        let len = events.len() as u32 + 1;
        let mut entries = Entries {
            next: (1..=len).collect(),
            prev: (0..len).map(|i| i.wrapping_sub(1)).collect(),
            event: Vec::with_capacity(len as usize),
            call_entry: vec![0; ops],
            return_entry: vec![None; ops],
        };
        entries.next[len as usize - 1] = u32::MAX;
        entries.event.push(Event::Call(u32::MAX));
        for (i, &event) in events.iter().enumerate() {
            let entry = i as u32 + 1;
            match event {
                Event::Call(id) => entries.call_entry[id as usize] = entry,
                Event::Return(id) => entries.return_entry[id as usize] = Some(entry),
            }
            entries.event.push(event);
        }
        entries
    }

    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        if n != u32::MAX {
            self.prev[n as usize] = p;
        }
    }

    /// Undoes `unlink`; entries must be relinked in the reverse order.
    fn relink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        if n != u32::MAX {
            self.prev[n as usize] = e;
        }
    }

    /// The op whose return comes first, and the calls before it: the ops
    /// that may be linearized next. There is one while an ok op is left.
    pub fn first_return(&self) -> (u32, impl Iterator<Item = u32> + '_) {
        let mut at = self.next[HEAD as usize];
        while let Event::Call(_) = self.event[at as usize] {
            at = self.next[at as usize];
        }
        let Event::Return(blocked) = self.event[at as usize] else {
            unreachable!("the loop stops at a return")
        };
        let mut call = self.next[HEAD as usize];
        let calls = std::iter::from_fn(move || match self.event[call as usize] {
            Event::Call(id) => {
                call = self.next[call as usize];
                Some(id)
            }
            Event::Return(_) => None,
        });
        (blocked, calls)
    }

    pub fn lift(&mut self, id: u32) {
        self.unlink(self.call_entry[id as usize]);
        if let Some(r) = self.return_entry[id as usize] {
            self.unlink(r);
        }
    }

    pub fn unlift(&mut self, id: u32) {
        if let Some(r) = self.return_entry[id as usize] {
            self.relink(r);
        }
        self.relink(self.call_entry[id as usize]);
    }
}
