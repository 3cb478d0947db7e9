//! The event frame: every stored event in a compact, interned, columnar-ish form (32 bytes an
//! event), sorted by item and time. It is the engine's only input besides the directory and config;
//! it owns no team logic and reads nothing from disk (the daemon feeds it from the store).

use std::collections::HashMap;

use crate::model::{Event, EventKind, Item, ItemKind, LinkRelation, ReviewState, Reviewer, StatusCategory, Ts};

/// An interned string.
pub type Sym = u32;
pub const NO_SYM: Sym = u32::MAX;

/// Interns strings so events carry 4-byte symbols instead of heap strings.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    strings: Vec<Box<str>>,
    index: HashMap<Box<str>, Sym>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.index.get(s) {
            return id;
        }
        let id = self.strings.len() as Sym;
        let boxed: Box<str> = s.into();
        self.strings.push(boxed.clone());
        self.index.insert(boxed, id);
        id
    }
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.index.get(s).copied()
    }
    pub fn resolve(&self, sym: Sym) -> &str {
        if sym == NO_SYM { "" } else { &self.strings[sym as usize] }
    }
    pub fn len(&self) -> usize {
        self.strings.len()
    }
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

/// Event kinds as a byte; the meaning of `a`/`b` in [`EventRow`] per kind is noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Ev {
    Opened,
    /// a = assignee identity
    Assigned,
    Unassigned,
    /// a = label
    Labeled,
    Unlabeled,
    /// a = new status, b = category (0 none, 1 to do, 2 in progress, 3 done)
    StatusChanged,
    /// a = removed component (or NO_SYM), b = added component (or NO_SYM)
    ComponentChanged,
    /// a = team field value (or NO_SYM)
    TeamFieldChanged,
    /// a = from scope, b = to scope
    Moved,
    /// a = person identity or team handle, b = 1 when a is a team handle
    ReviewRequested,
    ReviewRequestRemoved,
    /// a = review state (0 approved, 1 changes requested, 2 commented)
    Reviewed,
    /// a..a+b in `extras` = mentioned team handles
    Commented,
    /// a..a+b in `extras` = co-author identities
    Committed,
    /// a = 1 when closed as completed
    Closed,
    Reopened,
    Merged,
    /// a = reverting item key (or NO_SYM)
    Reverted,
    /// a = relation (0 supersedes, 1 superseded by, 2 duplicates, 3 blocks), b = target item key
    Linked,
    ConvertedToDraft,
    ReadyForReview,
}

pub const STATE_APPROVED: u32 = 0;
pub const STATE_CHANGES_REQUESTED: u32 = 1;
pub const STATE_COMMENTED: u32 = 2;
pub const REL_SUPERSEDES: u32 = 0;
pub const REL_SUPERSEDED_BY: u32 = 1;

/// One event, 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRow {
    pub at: Ts,
    pub item: u32,
    pub actor: Sym,
    pub a: u32,
    pub b: u32,
    /// Arrival order, to keep equal timestamps in source order.
    pub seq: u32,
    pub kind: Ev,
}

/// What the engine and the report need of an item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemInfo {
    pub key: Sym,
    pub source: Sym,
    pub kind: ItemKind,
    pub scope: Sym,
    pub author: Sym,
    pub issue_type: Sym,
    pub created_at: Ts,
    pub url: Box<str>,
    pub title: Box<str>,
}

/// All events, grouped by item after [`Frame::prepare`].
#[derive(Debug, Default, Clone)]
pub struct Frame {
    pub syms: Interner,
    pub items: Vec<ItemInfo>,
    item_by_key: HashMap<Sym, u32>,
    pub events: Vec<EventRow>,
    pub extras: Vec<Sym>,
    /// `events[item_start[i]..item_start[i + 1]]` are item i's events once prepared.
    item_start: Vec<u32>,
    prepared: bool,
    next_seq: u32,
    /// Items whose events were replaced since the last `prepare`: their rows with a `seq` below
    /// the value are gone (dropped in one pass by `prepare`, however many items were replaced).
    replaced: HashMap<u32, u32>,
}

impl Frame {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or updates an item (the latest row of an item wins).
    pub fn add_item(&mut self, item: &Item) -> u32 {
        let key = self.syms.intern(&item.key);
        let info = ItemInfo {
            key,
            source: self.syms.intern(&item.source),
            kind: item.kind,
            scope: self.syms.intern(&item.scope),
            author: item.author.as_deref().map_or(NO_SYM, |a| self.syms.intern(a)),
            issue_type: item.issue_type.as_deref().map_or(NO_SYM, |t| self.syms.intern(&t.to_ascii_lowercase())),
            created_at: item.created_at,
            url: item.url.as_str().into(),
            title: item.title.as_str().into(),
        };
        match self.item_by_key.get(&key) {
            Some(&i) => {
                self.items[i as usize] = info;
                i
            }
            None => self.placeholder_or_new(key, Some(info)),
        }
    }

    fn placeholder_or_new(&mut self, key: Sym, info: Option<ItemInfo>) -> u32 {
        let i = self.items.len() as u32;
        self.items.push(info.unwrap_or(ItemInfo {
            key,
            source: NO_SYM,
            kind: ItemKind::Issue,
            scope: NO_SYM,
            author: NO_SYM,
            issue_type: NO_SYM,
            created_at: Ts::MIN,
            url: "".into(),
            title: "".into(),
        }));
        self.item_by_key.insert(key, i);
        i
    }

    /// The index of an item by key; events may arrive before their item row.
    pub fn item_index(&mut self, key: &str) -> u32 {
        let k = self.syms.intern(key);
        match self.item_by_key.get(&k) {
            Some(&i) => i,
            None => self.placeholder_or_new(k, None),
        }
    }

    pub fn find_item(&self, key: &str) -> Option<u32> {
        self.syms.get(key).and_then(|k| self.item_by_key.get(&k).copied())
    }

    pub fn item_by_sym(&self, key: Sym) -> Option<u32> {
        self.item_by_key.get(&key).copied()
    }

    fn opt(&mut self, s: Option<&str>) -> Sym {
        s.map_or(NO_SYM, |s| self.syms.intern(s))
    }

    fn list(&mut self, xs: &[String]) -> (u32, u32) {
        let start = self.extras.len() as u32;
        for x in xs {
            let s = self.syms.intern(x);
            self.extras.push(s);
        }
        (start, xs.len() as u32)
    }

    /// Replaces item `key`'s events by `events` (its whole stored history, in insertion order), as
    /// when a source rewrote it: a removed link, a withdrawn approval, a deleted comment. Costs the
    /// new rows now and one pass over the frame in the next `prepare`, for any number of items.
    pub fn replace_item_events(&mut self, key: &str, events: &[Event]) {
        let item = self.item_index(key);
        self.replaced.insert(item, self.next_seq);
        for e in events {
            debug_assert_eq!(e.item, key, "an item's replacement holds only its own events");
            self.add_event(e);
        }
        self.prepared = false;
    }

    /// Appends an event. The store guarantees each event id is added once (an item whose stored
    /// events were rewritten is replaced whole with [`Frame::replace_item_events`]).
    pub fn add_event(&mut self, e: &Event) {
        let item = self.item_index(&e.item);
        let actor = self.opt(e.actor.as_deref());
        let (kind, a, b) = match &e.kind {
            EventKind::Opened => (Ev::Opened, 0, 0),
            EventKind::Assigned { assignee } => (Ev::Assigned, self.syms.intern(assignee), 0),
            EventKind::Unassigned { assignee } => (Ev::Unassigned, self.syms.intern(assignee), 0),
            EventKind::Labeled { label } => (Ev::Labeled, self.syms.intern(label), 0),
            EventKind::Unlabeled { label } => (Ev::Unlabeled, self.syms.intern(label), 0),
            EventKind::StatusChanged { to, category, .. } => {
                let cat = match category {
                    None => 0,
                    Some(StatusCategory::ToDo) => 1,
                    Some(StatusCategory::InProgress) => 2,
                    Some(StatusCategory::Done) => 3,
                };
                (Ev::StatusChanged, self.syms.intern(&to.to_ascii_lowercase()), cat)
            }
            EventKind::ComponentChanged { from, to } => {
                let f = from.as_deref().map(str::to_ascii_lowercase);
                let t = to.as_deref().map(str::to_ascii_lowercase);
                (Ev::ComponentChanged, self.opt(f.as_deref()), self.opt(t.as_deref()))
            }
            EventKind::TeamFieldChanged { to } => (Ev::TeamFieldChanged, self.opt(to.as_deref()), 0),
            EventKind::Moved { from_scope, to_scope } => {
                (Ev::Moved, self.syms.intern(from_scope), self.syms.intern(to_scope))
            }
            EventKind::ReviewRequested { reviewer } | EventKind::ReviewRequestRemoved { reviewer } => {
                let k = if matches!(e.kind, EventKind::ReviewRequested { .. }) {
                    Ev::ReviewRequested
                } else {
                    Ev::ReviewRequestRemoved
                };
                match reviewer {
                    Reviewer::Person(p) => (k, self.syms.intern(p), 0),
                    Reviewer::Team(t) => (k, self.syms.intern(&t.to_ascii_lowercase()), 1),
                }
            }
            EventKind::Reviewed { state } => {
                let s = match state {
                    ReviewState::Approved => STATE_APPROVED,
                    ReviewState::ChangesRequested => STATE_CHANGES_REQUESTED,
                    ReviewState::Commented => STATE_COMMENTED,
                };
                (Ev::Reviewed, s, 0)
            }
            EventKind::Commented { mentions } => {
                let (a, b) = self.list(mentions);
                (Ev::Commented, a, b)
            }
            EventKind::Committed { co_authors } => {
                let (a, b) = self.list(co_authors);
                (Ev::Committed, a, b)
            }
            EventKind::Closed { completed } => (Ev::Closed, *completed as u32, 0),
            EventKind::Reopened => (Ev::Reopened, 0, 0),
            EventKind::Merged => (Ev::Merged, 0, 0),
            EventKind::Reverted { by } => (Ev::Reverted, self.opt(by.as_deref()), 0),
            EventKind::Linked { relation, target } => {
                let r = match relation {
                    LinkRelation::Supersedes => REL_SUPERSEDES,
                    LinkRelation::SupersededBy => REL_SUPERSEDED_BY,
                    LinkRelation::Duplicates => 2,
                    LinkRelation::Blocks => 3,
                };
                (Ev::Linked, r, self.syms.intern(target))
            }
            EventKind::ConvertedToDraft => (Ev::ConvertedToDraft, 0, 0),
            EventKind::ReadyForReview => (Ev::ReadyForReview, 0, 0),
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.events.push(EventRow { at: e.at, item, actor, a, b, seq, kind });
        self.prepared = false;
    }

    /// Sorts events by (item, time, arrival) and indexes item ranges. Cheap when already sorted.
    pub fn prepare(&mut self) {
        if self.prepared {
            return;
        }
        if !self.replaced.is_empty() {
            // Per item, the first row of its replacement; 0 keeps every row of an item not replaced.
            let mut keep_from = vec![0u32; self.items.len()];
            for (&item, &seq) in &self.replaced {
                keep_from[item as usize] = seq;
            }
            self.events.retain(|e| e.seq >= keep_from[e.item as usize]);
            self.replaced.clear();
        }
        let sorted = self.events.windows(2).all(|w| (w[0].item, w[0].at, w[0].seq) <= (w[1].item, w[1].at, w[1].seq));
        if !sorted {
            self.events.sort_unstable_by_key(|e| (e.item, e.at, e.seq));
        }
        self.item_start.clear();
        self.item_start.reserve(self.items.len() + 1);
        let mut i = 0usize;
        for item in 0..=self.items.len() as u32 {
            while i < self.events.len() && self.events[i].item < item {
                i += 1;
            }
            self.item_start.push(i as u32);
        }
        self.prepared = true;
    }

    pub fn is_prepared(&self) -> bool {
        self.prepared
    }

    /// Item `i`'s events in time order. Call [`Frame::prepare`] first.
    pub fn item_events(&self, i: u32) -> &[EventRow] {
        debug_assert!(self.prepared, "Frame::prepare must run before reading item events");
        let (s, e) = (self.item_start[i as usize] as usize, self.item_start[i as usize + 1] as usize);
        &self.events[s..e]
    }

    pub fn extras(&self, start: u32, len: u32) -> &[Sym] {
        &self.extras[start as usize..(start + len) as usize]
    }

    /// Bytes held by the frame's own buffers (for the memory benchmark).
    pub fn heap_bytes(&self) -> usize {
        self.events.capacity() * std::mem::size_of::<EventRow>()
            + self.extras.capacity() * 4
            + self.item_start.capacity() * 4
            + self.items.capacity() * std::mem::size_of::<ItemInfo>()
            + self.items.iter().map(|i| i.url.len() + i.title.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_row_stays_32_bytes() {
        assert_eq!(std::mem::size_of::<EventRow>(), 32);
    }

    #[test]
    fn replacing_an_item_drops_its_old_rows_and_keeps_the_others() {
        let ev = |id: &str, item: &str, at, kind| Event { id: id.into(), item: item.into(), at, actor: None, kind };
        let link = EventKind::Linked { relation: LinkRelation::Supersedes, target: "d".into() };
        let mut f = Frame::new();
        f.add_event(&ev("1", "a", 1, EventKind::Opened));
        f.add_event(&ev("2", "b", 2, EventKind::Opened));
        f.add_event(&ev("3", "a", 3, link));
        f.prepare();
        assert_eq!(f.events.len(), 3);
        // `a` rewritten twice before the next prepare (the link removed, then a comment), and a new
        // event of `b` meanwhile.
        f.replace_item_events("a", &[ev("1", "a", 1, EventKind::Opened)]);
        f.add_event(&ev("4", "b", 4, EventKind::Reopened));
        let comment = EventKind::Commented { mentions: vec![] };
        f.replace_item_events("a", &[ev("1", "a", 1, EventKind::Opened), ev("5", "a", 5, comment)]);
        f.prepare();
        let (a, b) = (f.find_item("a").unwrap(), f.find_item("b").unwrap());
        let kinds = |i| f.item_events(i).iter().map(|e| (e.at, e.kind)).collect::<Vec<_>>();
        assert_eq!(kinds(a), vec![(1, Ev::Opened), (5, Ev::Commented)]);
        assert_eq!(kinds(b), vec![(2, Ev::Opened), (4, Ev::Reopened)]);
        assert_eq!(f.events.len(), 4);
        // Nothing pending: preparing again changes nothing.
        f.prepare();
        assert_eq!(f.events.len(), 4);
    }

    #[test]
    fn prepare_groups_by_item_and_time() {
        let mut f = Frame::new();
        let ev = |id: &str, item: &str, at| Event {
            id: id.into(),
            item: item.into(),
            at,
            actor: None,
            kind: EventKind::Opened,
        };
        f.add_event(&ev("1", "b", 5));
        f.add_event(&ev("2", "a", 9));
        f.add_event(&ev("3", "b", 1));
        f.add_event(&ev("4", "a", 9));
        f.prepare();
        let a = f.find_item("a").unwrap();
        let b = f.find_item("b").unwrap();
        assert_eq!(f.item_events(b).iter().map(|e| e.at).collect::<Vec<_>>(), vec![1, 5]);
        // Equal timestamps keep arrival order.
        assert_eq!(f.item_events(a).iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 3]);
    }
}
