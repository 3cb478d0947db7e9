//! A small mutation fuzzer on stable Rust (cargo-fuzz needs nightly, which CI does not have):
//! no coverage feedback, but structure-aware mutations of real payloads (JSON trees) and of text
//! (TOML, YAML, periods), each target run for a bounded time, every panic or slow input written
//! to a fixed directory with the message. It owns mutation and running; the targets and their
//! seeds live in tests/fuzz.rs. It never writes outside that directory.
#![allow(dead_code)]

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use rand_xoshiro::SplitMix64;
use rand_xoshiro::rand_core::{Rng as _, SeedableRng};
use serde_json::{Map, Value};

/// The simulator's generator (SplitMix64), so a seed replays the same inputs.
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SplitMix64::seed_from_u64(seed ^ 0x5DEE_CE66_D1CE_4E5B))
    }
    pub fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Strings that break parsers: times at the edges, bidi and NUL characters, huge numbers.
const NASTY_STRINGS: &[&str] = &[
    "",
    " ",
    "null",
    "0",
    "-1",
    "18446744073709551616",
    "1e309",
    "NaN",
    "1970-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999+14:00",
    "2020-02-30T25:61:61Z",
    "2024-06-01T10:00:00.000+0000",
    "2024-06-01",
    "\u{202e}evil\u{202c}",
    "a\0b",
    "é\u{301}",
    "💥",
    "javascript:alert(1)",
    "https://",
    "#",
    "owner/repo#12",
    "Closes #1",
    "@org/team",
    "co-authored-by: x <y@z>",
    "[bot]",
    "ghost",
];

/// Mutates a JSON tree in place: 1 to 8 edits at random nodes.
pub fn mutate_json(v: &mut Value, rng: &mut Rng, donors: &[Value]) {
    for _ in 0..1 + rng.below(8) {
        let depth = rng.below(12);
        let node = random_node(v, rng, depth);
        edit(node, rng, donors);
    }
}

fn random_node<'a>(v: &'a mut Value, rng: &mut Rng, depth: usize) -> &'a mut Value {
    if depth == 0 {
        return v;
    }
    let n = match v {
        Value::Array(a) if !a.is_empty() => a.len(),
        Value::Object(o) if !o.is_empty() => o.len(),
        _ => return v,
    };
    let i = rng.below(n);
    match v {
        Value::Array(a) => random_node(&mut a[i], rng, depth - 1),
        Value::Object(o) => {
            let key = o.keys().nth(i).cloned().unwrap_or_default();
            random_node(o.get_mut(&key).unwrap(), rng, depth - 1)
        }
        _ => unreachable!(),
    }
}

fn nasty_number(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => Value::from(0),
        1 => Value::from(-1),
        2 => Value::from(i64::MAX),
        3 => Value::from(i64::MIN),
        4 => Value::from(u64::MAX),
        5 => serde_json::json!(1.0e308),
        6 => serde_json::json!(-0.5),
        7 => Value::from(rng.next() as i64),
        _ => Value::from(rng.below(3) as i64),
    }
}

fn nasty_value(rng: &mut Rng, donors: &[Value]) -> Value {
    match rng.below(11) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => nasty_number(rng),
        3 => Value::String(rng.pick(NASTY_STRINGS).to_string()),
        4 => Value::String("x".repeat(1 + rng.below(10_000))),
        5 => Value::Array(Vec::new()),
        6 => Value::Object(Map::new()),
        7 => {
            // Nesting as deep as a real body may be (serde_json refuses more than 128 levels).
            let mut v = Value::Null;
            for _ in 0..rng.below(100) {
                v = Value::Array(vec![v]);
            }
            v
        }
        _ if !donors.is_empty() => {
            let mut d = rng.pick(donors).clone();
            let depth = rng.below(6);
            random_node(&mut d, rng, depth).clone()
        }
        _ => Value::Null,
    }
}

fn edit(node: &mut Value, rng: &mut Rng, donors: &[Value]) {
    match node {
        Value::Object(o) if !o.is_empty() && rng.chance(3) => {
            let key = o.keys().nth(rng.below(o.len())).cloned().unwrap_or_default();
            if rng.chance(2) {
                o.remove(&key);
            } else {
                let v = nasty_value(rng, donors);
                o.insert(key, v);
            }
        }
        Value::Array(a) if !a.is_empty() && rng.chance(3) => {
            let i = rng.below(a.len());
            match rng.below(4) {
                0 => {
                    a.remove(i);
                }
                1 => {
                    // Repeat an element (a page seen twice, a duplicated event).
                    let e = a[i].clone();
                    for _ in 0..1 + rng.below(4) {
                        a.insert(i, e.clone());
                    }
                }
                2 => {
                    let j = rng.below(a.len());
                    a.swap(i, j)
                }
                _ => a.reverse(),
            }
        }
        Value::String(s) if rng.chance(2) => {
            let mut bytes = s.clone().into_bytes();
            mutate_bytes(&mut bytes, rng, &[]);
            *s = String::from_utf8_lossy(&bytes).into_owned();
        }
        Value::Number(_) if rng.chance(2) => *node = nasty_number(rng),
        _ => *node = nasty_value(rng, donors),
    }
}

/// Byte-level edits, with `dictionary` tokens (keys, punctuation) spliced in.
pub fn mutate_bytes(data: &mut Vec<u8>, rng: &mut Rng, dictionary: &[&str]) {
    for _ in 0..1 + rng.below(6) {
        let len = data.len();
        let at = rng.below(len + 1);
        match rng.below(9) {
            0 if len > 0 => data[at.min(len - 1)] ^= 1 << rng.below(8),
            1 if len > 0 => data[at.min(len - 1)] = *rng.pick(b"\0\n\r\t \"'=[]{}:,-#\\\x7f\xff"),
            2 if len > 0 => {
                let end = (at + 1 + rng.below(32)).min(len);
                data.drain(at.min(end)..end);
            }
            3 if len > 0 => {
                let end = (at + 1 + rng.below(64)).min(len);
                let chunk = data[at.min(end)..end].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, chunk);
            }
            4 | 5 if !dictionary.is_empty() => {
                let word = rng.pick(dictionary).as_bytes().to_vec();
                data.splice(at..at, word);
            }
            6 => {
                let word = rng.pick(NASTY_STRINGS).as_bytes().to_vec();
                data.splice(at..at, word);
            }
            7 => {
                let digits = format!("{}", rng.next());
                data.splice(at..at, digits.bytes());
            }
            _ => data.insert(at, rng.next() as u8),
        }
    }
    data.truncate(1 << 20);
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}
static HOOK: Once = Once::new();

/// Silences panics on fuzzing threads (they are expected, caught and recorded); other threads
/// keep the default output.
fn install_hook() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if FUZZING.with(|f| *f.borrow()) {
                let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                let msg = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
            } else {
                default(info);
            }
        }));
    });
}

thread_local! {
    static FUZZING: RefCell<bool> = const { RefCell::new(false) };
}

/// Where findings go: `$SILOSCOPE_FUZZ_FINDINGS`, else `target/fuzz-findings` in the checkout.
pub fn findings_dir() -> PathBuf {
    std::env::var_os("SILOSCOPE_FUZZ_FINDINGS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings"))
}

/// Seconds per target: `$SILOSCOPE_FUZZ_SECONDS` (fuzz/run-long sets hours), else 3.
pub fn budget() -> Duration {
    let s = std::env::var("SILOSCOPE_FUZZ_SECONDS").ok().and_then(|v| v.parse::<f64>().ok()).unwrap_or(3.0);
    Duration::from_secs_f64(s.max(0.1))
}

/// An input slower than this is a finding (a parser that explodes on it). Generous: the machine
/// may be shared, and a timing threshold must never make the suite flaky.
const SLOW: Duration = Duration::from_secs(30);

pub struct Report {
    pub target: String,
    pub runs: u64,
    pub seconds: f64,
    pub findings: Vec<PathBuf>,
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// Runs `check` on the target's regression inputs (tests/fuzz_regressions/<target>/), then on
/// mutants of `seeds` until the budget is spent. `mutate` makes a new input from a seed.
pub fn run<I: Clone>(
    target: &str,
    seeds: &[I],
    regressions: Vec<I>,
    encode: impl Fn(&I) -> Vec<u8>,
    mut mutate: impl FnMut(&I, &mut Rng) -> I,
    check: impl Fn(&I) -> Result<(), String>,
) -> Report {
    install_hook();
    assert!(!seeds.is_empty(), "{target}: no seeds");
    let seed = std::env::var("SILOSCOPE_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    let mut rng = Rng::new(seed ^ fnv(target.as_bytes()));
    let budget = budget();
    let started = Instant::now();
    let mut findings = Vec::new();
    let mut pool: Vec<I> = Vec::new();
    let mut runs = 0u64;
    let dir = findings_dir().join(target);
    let record = |input: &I, why: &str| {
        let bytes = encode(input);
        let name = format!("{:016x}", fnv(&bytes));
        std::fs::create_dir_all(&dir).expect("creating the findings directory");
        let path = dir.join(&name);
        std::fs::write(&path, &bytes).expect("writing a finding");
        std::fs::write(dir.join(format!("{name}.why")), format!("{why}\n(run seed {seed})\n")).ok();
        path
    };
    let one = |input: &I, findings: &mut Vec<PathBuf>| -> bool {
        FUZZING.with(|f| *f.borrow_mut() = true);
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| check(input)));
        let took = t.elapsed();
        FUZZING.with(|f| *f.borrow_mut() = false);
        let why = match outcome {
            Ok(Ok(())) if took <= SLOW => return true,
            Ok(Ok(())) => format!("slow: {took:.1?} for one input"),
            Ok(Err(property)) => format!("property: {property}"),
            Err(_) => format!("panic: {}", LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default()),
        };
        if findings.len() < 20 {
            findings.push(record(input, &why));
        }
        false
    };
    for r in &regressions {
        one(r, &mut findings);
    }
    for s in seeds {
        one(s, &mut findings);
    }
    while started.elapsed() < budget {
        let base = if !pool.is_empty() && rng.chance(2) { rng.pick(&pool).clone() } else { rng.pick(seeds).clone() };
        let input = mutate(&base, &mut rng);
        runs += 1;
        if one(&input, &mut findings) && rng.chance(8) {
            // Keep some mutants to stack further edits on (no coverage to choose them by).
            if pool.len() < 256 {
                pool.push(input);
            } else {
                let i = rng.below(pool.len());
                pool[i] = input;
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("fuzz {target}: {runs} inputs in {seconds:.1} s (seed {seed}), {} findings", findings.len());
    Report { target: target.to_string(), runs, seconds, findings }
}

/// Fails with every finding's path and reason.
pub fn assert_clean(report: &Report) {
    if report.findings.is_empty() {
        return;
    }
    let list: Vec<String> = report
        .findings
        .iter()
        .map(|p| {
            let why = std::fs::read_to_string(p.with_extension("why")).unwrap_or_default();
            format!("{}: {}", p.display(), why.lines().next().unwrap_or(""))
        })
        .collect();
    panic!("fuzz target {} found {} problems:\n{}", report.target, list.len(), list.join("\n"));
}
