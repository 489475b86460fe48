//! The pipeline: an open-loop generator thread feeds the bounded queue; one batcher thread drains it into
//! the batch window, frames records into a block as they arrive, and commits each block to the sink.
//! This is the only module that owns threads and reads real time; everything it drives is pure or
//! counts at the syscall boundary.
//!
//! ```text
//! generator --push--> BoundedQueue --pop_batch--> [BatchWindow + BlockBuilder] --commit--> Sink
//!   (stamps intended time)                          (decides when)      (write + fdatasync, counted)
//!        ^                                                    |
//!        +------------ BufferPool (payload buffers recycled) -+
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::batch::{AimdDriver, AimdPoint, BatchWindow, FlushReason};
use crate::clock::{Clock, MonotonicClock, Nanos};
use crate::codec::control::{encode_control, Position};
use crate::codec::{BlockBuilder, BlockReader, Codec, MAX_RECORD_FRAMING_BYTES};
use crate::config::{LoadShape, RunConfig, StopAfter, WindowConfig, WindowMode};
use crate::error::{PushError, SinkError, SysError};
use crate::host::{current_rss_bytes, CpuMeter};
use crate::load::Schedule;
use crate::metrics::{LatencySummary, Metrics};
use crate::payload::{make_poison, parse_id, stamp_id, PayloadSource};
use crate::prometheus::LiveCounters;
use crate::queue::{BoundedQueue, BufferPool, OverflowPolicy, PopStatus, PushOutcome, SpillFile};
use crate::retry::{DeadLetter, DeadLetterQueue, DlqPush, RetryStrategy, SplitPlan, SplitStep};
use crate::signals::{flush_requests, shutdown_requested, FLUSH_POLL};
use crate::sink::{free_bytes, FileSink, FsInfo, Sink};
use crate::summary::RunError;
use crate::summary::{RunReport, RunSettings, Sample};

use crate::item::{DeadNote, Item};

/// Counters shared between the generator, the batcher and the sampler. Each on its own cache line so
/// the generator's per-item increment does not bounce the batcher's line.
#[derive(Default)]
pub(crate) struct Live {
    pub(crate) offered: Padded,
    committed: Padded,
    pub(crate) dead_lettered: Padded,
    dropped: Padded,
    popped: Padded,
    lost: Padded,
    timed_out: Padded,
}

impl Live {
    /// The counters as the live endpoint and the progress line read them.
    fn snapshot(&self, queue: &BoundedQueue<Item>) -> LiveCounters {
        // Outcomes first, `offered` last: an item is counted offered before it can have an outcome,
        // so a snapshot never shows more committed (or dropped, ...) than offered.
        let committed = self.committed.get();
        let dead_lettered = self.dead_lettered.get();
        let dropped = self.dropped.get();
        let lost = self.lost.get();
        let timed_out = self.timed_out.get();
        let queue_depth = queue.len() as u64;
        LiveCounters {
            offered: self.offered.get(),
            committed,
            dead_lettered,
            dropped,
            lost,
            timed_out,
            queue_depth,
        }
    }
}

#[derive(Default)]
#[repr(align(64))]
pub(crate) struct Padded(AtomicU64);

impl Padded {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Closes the queue if the batcher thread unwinds, so a blocked producer gets `Closed` instead of
/// waiting forever for a consumer that is gone.
struct CloseOnUnwind<'a>(&'a BoundedQueue<Item>);

impl Drop for CloseOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close();
        }
    }
}

/// Buffers a producer takes from the pool at once.
const POOL_CHUNK: usize = 256;
/// Start the schedule this far after set-up, so the first items are not born late.
const START_LEAD: Duration = Duration::from_millis(5);
/// Shortest generator sleep: below this, sleeping costs more than it waits, so the generator sleeps
/// this long and then sends everything that has come due.
const MIN_SLEEP: Duration = Duration::from_micros(50);
/// Longest generator sleep (how long a shutdown request can go unseen).
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// Run the pipeline into a [`FileSink`] in `cfg.sink.dir`: checks free space, warns on tmpfs.
pub fn run(cfg: &RunConfig) -> Result<RunReport, RunError> {
    cfg.validate()?;
    std::fs::create_dir_all(&cfg.sink.dir)
        .map_err(|e| RunError::Setup(SysError::new("mkdir", &cfg.sink.dir, e)))?;
    let free = free_bytes(&cfg.sink.dir)
        .map_err(|e| RunError::Setup(SysError::new("statvfs", &cfg.sink.dir, e)))?;
    if free < cfg.min_free_bytes {
        return Err(RunError::NoSpace {
            dir: cfg.sink.dir.clone(),
            free,
            needed: cfg.min_free_bytes,
        });
    }
    let fs = FsInfo::of(&cfg.sink.dir)
        .map_err(|e| RunError::Setup(SysError::new("statfs", &cfg.sink.dir, e)))?;
    let sink = FileSink::open(&cfg.sink).map_err(RunError::Setup)?;
    let mut report = run_with_sink(cfg, sink)?;
    report.fs_type = fs.name.clone();
    if let Some(w) = fs.warning(&cfg.sink.dir) {
        report.warnings.insert(0, w);
    }
    Ok(report)
}

/// Run the pipeline into any sink (e.g. [`crate::NullSink`] to measure in-process overhead).
pub fn run_with_sink<S: Sink + 'static>(cfg: &RunConfig, sink: S) -> Result<RunReport, RunError> {
    cfg.validate()?;
    let mut schedule = Schedule::new(&cfg.load.shape, cfg.load.rate)?;
    let mut payloads =
        PayloadSource::new(cfg.load.payload, cfg.load.item_bytes, cfg.load.payload_seed);
    run_with_producer(cfg, sink, Sources::default(), |ends, start| {
        generate(cfg, &mut schedule, &mut payloads, ends, start)
    })
}

/// Where ingested items come from: the input keys that items' [`SourcePos::input`] index (each
/// committed block then carries their positions), and the dead-letter queue for items marked dead.
#[derive(Default)]
pub(crate) struct Sources {
    pub(crate) keys: Vec<String>,
    pub(crate) dlq: Option<DeadLetterQueue>,
    /// Positions to commit with the first block even if no record of that input is read (an input
    /// that resumed under a new name carries its position over to it).
    pub(crate) carried: Vec<Option<Position>>,
}

/// Run the pipeline with `produce` feeding the queue on the calling thread (the open-loop generator,
/// or ingest's reader).
pub(crate) fn run_with_producer<S, P>(
    cfg: &RunConfig,
    sink: S,
    sources: Sources,
    produce: P,
) -> Result<RunReport, RunError>
where
    S: Sink + 'static,
    P: FnOnce(Ends<'_>, Nanos) -> GenOutcome,
{
    cfg.validate()?;
    let clock = MonotonicClock::new();
    let queue = Arc::new(match cfg.queue.policy {
        OverflowPolicy::Spill => {
            let dir = cfg
                .queue
                .spill_dir
                .clone()
                .unwrap_or_else(|| cfg.sink.dir.join("spill"));
            let store = SpillFile::open_on(&cfg.sink.storage, &dir, cfg.queue.spill_max_bytes)
                .map_err(|e| RunError::Setup(SysError::new("open spill", dir.clone(), e)))?;
            BoundedQueue::<Item>::with_spill(cfg.queue.capacity_items, Box::new(store))
                .with_byte_capacity(cfg.queue.capacity_bytes, Item::weight)
        }
        p => BoundedQueue::<Item>::new(cfg.queue.capacity_items, p)
            .with_block_timeout(cfg.queue.block_timeout)
            .with_byte_capacity(cfg.queue.capacity_bytes, Item::weight),
    });
    let pool = Arc::new(
        BufferPool::new(
            cfg.queue
                .capacity_items
                .saturating_add(cfg.window.max_items + POOL_CHUNK)
                .min(1 << 22),
        )
        .with_max_bytes(cfg.queue.capacity_bytes),
    );
    let Sources {
        keys: inputs,
        dlq,
        mut carried,
    } = sources;
    let dlq = match (dlq, cfg.retry) {
        (Some(d), _) => Some(d),
        (None, RetryStrategy::FailStop) => None,
        (None, _) => Some(
            DeadLetterQueue::open_in(&cfg.sink.storage, &cfg.dlq_dir())
                .map_err(RunError::Setup)?
                .with_limit(cfg.dlq_limit),
        ),
    };
    let live = Arc::new(Live::default());
    let cpu = CpuMeter::start();

    let batcher = {
        let (queue, pool, live) = (Arc::clone(&queue), Arc::clone(&pool), Arc::clone(&live));
        let mut b = Batcher::new(effective_window(cfg), clock, sink, live);
        if let WindowMode::Aimd(a) = cfg.window_mode {
            b.aimd = Some(AimdDriver::new(a, cfg.slo, cfg.window.linger, clock.now()));
        }
        b.retry = cfg.retry;
        b.dlq = dlq;
        b.codec = cfg.compress;
        carried.resize(inputs.len(), None);
        b.touched = carried;
        b.inputs = inputs;
        std::thread::Builder::new()
            .name("ingest-batcher".into())
            .spawn(move || {
                let _guard = CloseOnUnwind(&queue);
                b.run(&queue, &pool)
            })
            .expect("spawn batcher thread")
    };
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = cfg.sample_every.map(|every| {
        let (queue, live, stop) = (
            Arc::clone(&queue),
            Arc::clone(&live),
            Arc::clone(&stop_sampling),
        );
        std::thread::Builder::new()
            .name("ingest-sampler".into())
            .spawn(move || sample(every, &clock, &queue, &live, &stop))
            .expect("spawn sampler thread")
    });

    let metrics_server = match cfg.metrics_addr {
        None => None,
        Some(addr) => {
            let (queue, live, stop) = (
                Arc::clone(&queue),
                Arc::clone(&live),
                Arc::clone(&stop_sampling),
            );
            let (bound, h) = crate::prometheus::serve(addr, stop, move || {
                crate::prometheus::render_live(&live.snapshot(&queue))
            })
            .map_err(|e| RunError::Setup(SysError::new("bind metrics", addr.to_string(), e)))?;
            eprintln!("metrics: http://{bound}/metrics");
            Some(h)
        }
    };
    let progress = cfg.progress.clone().map(|p| {
        let (queue, live, stop) = (
            Arc::clone(&queue),
            Arc::clone(&live),
            Arc::clone(&stop_sampling),
        );
        crate::progress::spawn(p, stop, move || live.snapshot(&queue))
    });
    let start = clock.now() + START_LEAD.as_nanos() as Nanos;
    let ends = Ends {
        queue: &queue,
        pool: &pool,
        clock: &clock,
        live: &live,
    };
    let gen = produce(ends, start);
    queue.close();
    let (mut metrics, sink_counters, sync, end, sink_err, aimd_trace) =
        batcher.join().expect("batcher thread panicked");
    stop_sampling.store(true, Ordering::Relaxed);
    let samples = sampler
        .map(|h| h.join().expect("sampler thread panicked"))
        .unwrap_or_default();
    if let Some(h) = metrics_server {
        let _ = h.join();
    }
    if let Some(h) = progress {
        let _ = h.join();
    }
    metrics.offered = gen.offered;
    metrics.dropped += gen.dropped;
    metrics.rejected_queue_closed = gen.rejected_closed;
    metrics.rejected_block_timeout = gen.rejected_timeout;
    let elapsed_s = end.saturating_sub(start) as f64 / 1e9;

    let mut report = RunReport::new(&metrics, sink_counters, sync, elapsed_s);
    report.behind_schedule = gen.behind_schedule;
    report.producer_blocked_s = queue.producer_blocked().as_secs_f64();
    report.samples = samples;
    report.aimd_trace = aimd_trace;
    report.cpu = cpu.stop();
    report.slo_met = report.latency_us.p99 <= cfg.slo.as_secs_f64() * 1e6;
    report.settings = settings(cfg);
    if shutdown_requested() {
        report.warnings.push(
            "stopped early by SIGINT/SIGTERM: intake stopped, everything accepted was flushed"
                .into(),
        );
    }
    if gen.behind_schedule > 0 {
        report.warnings.push(format!(
            "the generator fell {} items behind the schedule (blocked by a full queue): the pipeline could not \
             take the offered load",
            gen.behind_schedule
        ));
    }
    debug_assert_eq!(
        report.unaccounted(),
        0,
        "counters must reconcile: {report:?}"
    );
    match sink_err {
        Some(error) => Err(RunError::Sink {
            error,
            partial: Box::new(report),
        }),
        None => Ok(report),
    }
}

/// The window the batcher starts with: smart batching is a zero linger (see [`WindowMode::Smart`]).
fn effective_window(cfg: &RunConfig) -> WindowConfig {
    match cfg.window_mode {
        WindowMode::Smart => WindowConfig {
            linger: Duration::ZERO,
            ..cfg.window
        },
        _ => cfg.window,
    }
}

fn settings(cfg: &RunConfig) -> RunSettings {
    RunSettings {
        load: match (&cfg.load.shape, cfg.load.rate) {
            (_, None) => "saturate".into(),
            (LoadShape::Steady, _) => "steady".into(),
            (LoadShape::Bursty { seed }, _) => format!("bursty:seed={seed}"),
            (LoadShape::Replay(p), _) => format!("replay:{}", p.display()),
        },
        rate: cfg.load.rate,
        item_bytes: cfg.load.item_bytes,
        max_items: cfg.window.max_items,
        max_bytes: cfg.window.max_bytes,
        linger_ms: effective_window(cfg).linger.as_secs_f64() * 1e3,
        window_mode: cfg.window_mode.as_str().into(),
        queue_capacity: cfg.queue.capacity_items,
        overflow: cfg.queue.policy.to_string(),
        slo_ms: cfg.slo.as_secs_f64() * 1e3,
        compress: cfg.compress.as_str().to_string(),
        dir: cfg.sink.dir.display().to_string(),
    }
}

/// Sample live counters every `every` until told to stop (one last sample then).
fn sample(
    every: Duration,
    clock: &MonotonicClock,
    queue: &BoundedQueue<Item>,
    live: &Live,
    stop: &AtomicBool,
) -> Vec<Sample> {
    let t0 = clock.now();
    let mut out = Vec::new();
    let mut next = t0;
    loop {
        let done = stop.load(Ordering::Relaxed);
        // The counters are read one after another; a sampler descheduled in between would see them at
        // different instants. Re-read (a few times at most) when the reads took longer than 50 µs.
        let mut snap = snapshot(clock, t0, queue, live);
        for _ in 0..3 {
            if snap.1 <= 50_000 {
                break;
            }
            snap = snapshot(clock, t0, queue, live);
        }
        out.push(snap.0);
        if done {
            return out;
        }
        next += every.as_nanos() as Nanos;
        let now = clock.now();
        if next > now {
            std::thread::sleep(Duration::from_nanos(next - now));
        }
    }
}

/// What the generator pushes into and counts with.
/// What a producer pushes into and counts with.
pub(crate) struct Ends<'a> {
    pub(crate) queue: &'a BoundedQueue<Item>,
    pub(crate) pool: &'a BufferPool,
    pub(crate) clock: &'a MonotonicClock,
    pub(crate) live: &'a Live,
}

/// One sample and how long reading it took (ns).
fn snapshot(
    clock: &MonotonicClock,
    t0: Nanos,
    queue: &BoundedQueue<Item>,
    live: &Live,
) -> (Sample, u64) {
    let a = clock.now();
    let s = Sample {
        t_s: a.saturating_sub(t0) as f64 / 1e9,
        offered: live.offered.get(),
        committed: live.committed.get(),
        dead_lettered: live.dead_lettered.get(),
        dropped: live.dropped.get(),
        queue_depth: queue.len() as u64,
        spilled: queue.spilled_now() as u64,
        in_batcher: live
            .popped
            .get()
            .saturating_sub(live.committed.get() + live.dead_lettered.get() + live.lost.get()),
        timed_out: live.timed_out.get(),
        producer_blocked_s: queue.producer_blocked().as_secs_f64(),
        rss_bytes: current_rss_bytes(),
    };
    (s, clock.now().saturating_sub(a))
}

/// What a producer reports when it stops.
#[derive(Debug, Default)]
pub(crate) struct GenOutcome {
    pub(crate) offered: u64,
    pub(crate) dropped: u64,
    pub(crate) rejected_closed: u64,
    pub(crate) rejected_timeout: u64,
    pub(crate) behind_schedule: u64,
}

/// Let this thread's sleeps end within ~1 µs of their deadline instead of the default 50 µs slack.
fn tighten_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// The open-loop generator, on the calling thread.
fn generate(
    cfg: &RunConfig,
    schedule: &mut Schedule,
    payloads: &mut PayloadSource,
    ends: Ends<'_>,
    start: Nanos,
) -> GenOutcome {
    let Ends {
        queue,
        pool,
        clock,
        live,
    } = ends;
    tighten_timer_slack();
    let (stop_at, max_items) = match cfg.load.stop {
        StopAfter::Duration(d) => (Some(start + d.as_nanos() as Nanos), u64::MAX),
        StopAfter::Items(n) => (None, n),
    };
    let mut out = GenOutcome {
        offered: 0,
        dropped: 0,
        rejected_closed: 0,
        rejected_timeout: 0,
        behind_schedule: 0,
    };
    let mut local: Vec<Vec<u8>> = Vec::with_capacity(POOL_CHUNK);
    let mut now = clock.now();
    while out.offered < max_items && !shutdown_requested() {
        let intended = match schedule.next_offset() {
            Some(off) => start + off,
            None => {
                now = clock.now();
                now.max(start)
            }
        };
        if let Some(stop) = stop_at {
            if intended >= stop {
                break;
            }
            // Wall-clock stop too: a generator blocked by a full queue must not run past the duration.
            if now >= stop {
                out.behind_schedule += 1 + count_remaining(schedule, start, stop);
                break;
            }
        }
        while intended > now {
            // Never spin (a spinning generator takes the core the kernel's journal thread needs, and
            // fdatasync latency collapses); a short sleep delays items a few tens of µs, and that
            // delay is counted in their latency because they keep their intended stamp.
            // Sleep at most MAX_SLEEP at a time, so a shutdown request is seen promptly at low rates.
            std::thread::sleep(
                Duration::from_nanos(intended - now)
                    .max(MIN_SLEEP)
                    .min(MAX_SLEEP),
            );
            if shutdown_requested() {
                return out;
            }
            now = clock.now();
        }
        let mut buf = local.pop().unwrap_or_else(|| {
            pool.take_into(&mut local, POOL_CHUNK);
            local
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(payloads.item_bytes()))
        });
        payloads.fill(&mut buf);
        if cfg.load.ids {
            stamp_id(&mut buf, out.offered);
            if cfg.load.poison.is_some_and(|p| p.is_poison(out.offered)) {
                make_poison(&mut buf);
            }
        }
        out.offered += 1;
        live.offered.add(1);
        match queue.push(Item {
            intended,
            payload: buf,
            source: None,
            dead: None,
        }) {
            Ok(PushOutcome::Accepted) | Ok(PushOutcome::Spilled) => {}
            Ok(PushOutcome::TimedOut(it)) => {
                out.rejected_timeout += 1;
                live.timed_out.add(1);
                recycle_one(&mut local, it.payload);
            }
            Ok(PushOutcome::Dropped(it)) => {
                out.dropped += 1;
                live.dropped.add(1);
                recycle_one(&mut local, it.payload);
            }
            Ok(PushOutcome::Evicted(gone)) => {
                for it in gone {
                    out.dropped += 1;
                    live.dropped.add(1);
                    recycle_one(&mut local, it.payload);
                }
            }
            Err(PushError::Closed(_)) => {
                // The batcher stopped (sink failure): count this and stop offering.
                out.rejected_closed += 1;
                break;
            }
            Err(PushError::Full(_)) => {
                unreachable!("push applies the policy and never returns Full")
            }
        }
        // A blocked push may have taken a long time; refresh the clock before deciding to sleep.
        if matches!(schedule, Schedule::Saturate) || out.offered.is_multiple_of(64) {
            now = clock.now();
        }
    }
    out
}

fn recycle_one(local: &mut Vec<Vec<u8>>, mut buf: Vec<u8>) {
    if local.len() < POOL_CHUNK {
        buf.clear();
        local.push(buf);
    }
}

/// Items the schedule still intends before `stop` (for the behind-schedule count).
fn count_remaining(schedule: &mut Schedule, start: Nanos, stop: Nanos) -> u64 {
    let mut n = 0;
    while let Some(off) = schedule.next_offset() {
        if start + off >= stop {
            break;
        }
        n += 1;
    }
    n
}

/// Acknowledge the spill reads of the first `done` items popped (see [`BoundedQueue::ack_spill`]).
fn ack_spill(queue: &BoundedQueue<Item>, done: u64) -> Result<(), SinkError> {
    queue
        .ack_spill(done)
        .map_err(|e| SinkError::Io(SysError::new("save spill position", "spill", e)))
}

/// The batcher: owns the window, the block being built, and the sink.
struct Batcher<S: Sink> {
    window: BatchWindow,
    block: BlockBuilder,
    clock: MonotonicClock,
    sink: S,
    intended: Vec<Nanos>,
    spent: Vec<Vec<u8>>,
    metrics: Metrics,
    last_framed: usize,
    live: Arc<Live>,
    retry: RetryStrategy,
    dlq: Option<DeadLetterQueue>,
    retry_block: BlockBuilder,
    codec: Codec,
    aimd: Option<AimdDriver>,
    /// Input keys (ingest) and, per input, the position of its last record in the open block.
    inputs: Vec<String>,
    touched: Vec<Option<Position>>,
    control: Vec<u8>,
    /// Dead letters buffered in the DLQ, not yet durable.
    dead_pending: u64,
}

type BatcherOutcome = (
    Metrics,
    crate::sink::SinkCounters,
    LatencySummary,
    Nanos,
    Option<SinkError>,
    Vec<AimdPoint>,
);

impl<S: Sink> Batcher<S> {
    fn new(cfg: WindowConfig, clock: MonotonicClock, sink: S, live: Arc<Live>) -> Self {
        Batcher {
            window: BatchWindow::new(cfg),
            block: BlockBuilder::with_capacity(cfg.max_bytes + 64 * 1024),
            clock,
            sink,
            intended: Vec::with_capacity(cfg.max_items),
            spent: Vec::with_capacity(cfg.max_items),
            metrics: Metrics::new(),
            last_framed: 1,
            live,
            retry: RetryStrategy::FailStop,
            dlq: None,
            retry_block: BlockBuilder::with_capacity(0),
            codec: Codec::None,
            aimd: None,
            inputs: Vec::new(),
            touched: Vec::new(),
            control: Vec::new(),
            dead_pending: 0,
        }
    }

    fn run(mut self, queue: &BoundedQueue<Item>, pool: &BufferPool) -> BatcherOutcome {
        let mut staging: Vec<Item> = Vec::with_capacity(self.window.config().max_items);
        let mut flushes_served = flush_requests();
        let spilling = queue.policy() == crate::queue::OverflowPolicy::Spill;
        let err = loop {
            let mut wait: Option<Instant> =
                self.window.deadline().map(|d| self.clock.instant_at(d));
            if self.window.linger() > FLUSH_POLL {
                // A long linger: wake up now and then to see whether a manual flush was asked for.
                wait = wait.map(|w| w.min(Instant::now() + FLUSH_POLL));
            }
            let status =
                queue.pop_batch(&mut staging, self.window.room().max(1), self.want(), wait);
            let now = self.clock.now();
            self.steer(now);
            if let PopStatus::Items(n) = status {
                self.live.popped.add(n as u64);
                Metrics::record(&mut self.metrics.queue_depth, (n + queue.len()) as u64);
            }
            if let Err(e) = self.admit(&mut staging, now, pool) {
                break Some(e);
            }
            if let Some(r) = self.window.due(self.clock.now()) {
                if let Err(e) = self.commit(r, pool) {
                    break Some(e);
                }
            }
            let asked = flush_requests();
            if asked != flushes_served {
                flushes_served = asked;
                if !self.window.is_empty() {
                    if let Err(e) = self.commit(FlushReason::Manual, pool) {
                        break Some(e);
                    }
                }
            }
            if spilling {
                // Everything popped but the open window is committed: a restart may skip it.
                let done = queue.popped_total() - self.window.items() as u64;
                if let Err(e) = ack_spill(queue, done) {
                    break Some(e);
                }
            }
            if status == PopStatus::Closed {
                if let Some(e) = queue.spill_error() {
                    break Some(SinkError::Io(SysError::new(
                        "read spill",
                        "spill",
                        std::io::Error::other(e),
                    )));
                }
                if !self.window.is_empty() {
                    if let Err(e) = self.commit(FlushReason::Shutdown, pool) {
                        break Some(e);
                    }
                }
                if let Err(e) = self.commit_positions_only() {
                    break Some(e);
                }
                if spilling {
                    // The shutdown commits above made everything popped durable: acknowledge it
                    // all, or the next start reads the last spilled batch again (review finding).
                    if let Err(e) = ack_spill(queue, queue.popped_total()) {
                        break Some(e);
                    }
                }
                break None;
            }
        };
        if err.is_some() {
            // Fail-stop: refuse new items, and count everything accepted but not durable as lost to the
            // sink failure (never as committed).
            queue.close();
            let mut lost = self.window.items() as u64 + staging.len() as u64;
            let mut rest = Vec::new();
            while let PopStatus::Items(n) =
                queue.pop_batch(&mut rest, usize::MAX, 1, Some(Instant::now()))
            {
                lost += n as u64;
                rest.clear();
            }
            // Spilled items that could not be read (a spill read failure) are lost to it too.
            lost += queue.spilled_now() as u64;
            // Dead letters not settled by a commit are in the window's count: lost to the failure
            // too, not dead-lettered.
            self.dead_pending = 0;
            self.metrics.rejected_sink_failed += lost;
        }
        self.metrics.flush_reasons = self.window.flush_counts();
        self.metrics.dlq_fdatasyncs = self.dlq.as_ref().map_or(0, DeadLetterQueue::syncs);
        self.metrics.dlq_evicted = self.dlq.as_ref().map_or(0, DeadLetterQueue::evicted);
        let sync = self
            .sink
            .sync_latency_ns()
            .map(LatencySummary::from_ns)
            .unwrap_or_default();
        let end = self.clock.now();
        let trace = self.aimd.map(AimdDriver::into_trace).unwrap_or_default();
        (self.metrics, self.sink.counters(), sync, end, err, trace)
    }

    /// With AIMD: at each control interval, move the linger (it applies to the open batch at once,
    /// since the deadline is computed from the first item's arrival and the linger in force).
    fn steer(&mut self, now: Nanos) {
        if let Some(linger) = self.aimd.as_mut().and_then(|a| a.tick(now)) {
            self.window.set_config(WindowConfig {
                linger,
                ..self.window.config()
            });
        }
    }

    /// Items the open batch can still take, by count and by bytes at the last item's size (at least 1).
    /// The batcher pops no more than this: an item popped but left over after a flush would open the
    /// next batch *before* the flush's fdatasync, and its linger would expire while it waited.
    fn fits(&self) -> usize {
        let cfg = self.window.config();
        let by_bytes = cfg.max_bytes.saturating_sub(self.window.bytes()) / self.last_framed.max(1);
        self.window.room().min(by_bytes).max(1)
    }

    /// Items worth waking up for: with a batch open, what would fill it; with none open, the first item
    /// (it starts the linger clock).
    fn want(&self) -> usize {
        if self.window.is_empty() {
            1
        } else {
            self.fits()
        }
    }

    /// Move staged items into the window and block, committing whenever a size bound is hit.
    fn admit(
        &mut self,
        staging: &mut Vec<Item>,
        now: Nanos,
        pool: &BufferPool,
    ) -> Result<(), SinkError> {
        let mut items = staging.drain(..);
        while let Some(mut item) = items.next() {
            // An upper bound (the layout decides: 1 byte, or a varint of up to 5), so the block never
            // passes the window's bytes.
            let framed = item.payload.len() + MAX_RECORD_FRAMING_BYTES;
            self.last_framed = framed;
            if let Some(r) = self.window.must_flush_before(framed) {
                if let Err(e) = self.commit(r, pool) {
                    // Put the unadmitted items back in `staging` so they are counted as lost.
                    let rest: Vec<Item> = std::iter::once(item).chain(items).collect();
                    staging.extend(rest);
                    return Err(e);
                }
            }
            if let Some(note) = item.dead.take() {
                // A dead letter takes its place in the window like a record: it is made durable
                // (and its position committed) within the same size and linger bounds, so a file of
                // nothing but invalid records is bounded in memory and resumable mid-way.
                if !self.dead_letter_note(item, *note, pool) {
                    continue;
                }
            } else {
                self.block.push(&item.payload);
                if let Some(s) = item.source {
                    self.touched[s.input as usize] = Some(s.pos);
                }
                self.intended.push(item.intended);
                self.spent.push(item.payload);
            }
            if let Some(r) = self.window.push(framed, now) {
                if let Err(e) = self.commit(r, pool) {
                    let rest: Vec<Item> = items.collect();
                    staging.extend(rest);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// An ingested record that failed validation: into the DLQ's buffer, its position noted. `true`
    /// when it is buffered for the DLQ (it then counts in the window until the next commit makes it
    /// durable); `false` when a full DLQ refused it (dropped and counted now; its buffer is recycled
    /// at once).
    fn dead_letter_note(&mut self, item: Item, note: DeadNote, pool: &BufferPool) -> bool {
        let (source, line) = match item.source {
            Some(s) => {
                self.touched[s.input as usize] = Some(s.pos);
                (
                    format!("{}:{}", self.inputs[s.input as usize], s.pos.line),
                    s.pos.line,
                )
            }
            None => ("unknown".to_string(), 0),
        };
        let dlq = self
            .dlq
            .as_mut()
            .expect("a producer of dead letters runs with a dead-letter queue");
        let entry = DeadLetter {
            id: line,
            reason: note.reason,
            source,
            attempts: 1,
            truncated: note.truncated,
            ..DeadLetter::default()
        };
        // A re-run after a crash may meet a record whose entry is already durable: counted, not
        // written twice (the DLQ de-duplicates by source).
        let kept = match dlq.push(&entry.with_payload(&item.payload, usize::MAX)) {
            DlqPush::Written | DlqPush::Duplicate => {
                self.dead_pending += 1;
                true
            }
            DlqPush::Refused => {
                self.metrics.dropped_dlq_full += 1;
                self.live.dropped.add(1);
                false
            }
        };
        if kept {
            self.spent.push(item.payload);
        } else {
            pool.give_back(&mut vec![item.payload]);
        }
        kept
    }

    /// Make buffered dead letters durable, before the block that commits their positions. They are
    /// counted as dead-lettered only once that block is durable too ([`Batcher::dead_letters_settled`]):
    /// a start-up cuts DLQ entries whose block never made it, and reads their lines again.
    fn sync_dead_letters(&mut self) -> Result<(), SinkError> {
        if self.dead_pending == 0 {
            return Ok(());
        }
        match self.dlq.as_mut() {
            Some(dlq) => dlq.sync().map_err(SinkError::Io),
            None => Ok(()),
        }
    }

    /// The block covering the pending dead letters' positions was committed (`ok`) or failed: count
    /// them as dead-lettered, or as lost to the failure.
    fn dead_letters_settled(&mut self, ok: bool) {
        let n = std::mem::take(&mut self.dead_pending);
        if ok {
            self.metrics.dead_lettered += n;
            self.live.dead_lettered.add(n);
        } else {
            self.metrics.rejected_sink_failed += n;
            self.live.lost.add(n);
        }
    }

    /// At shutdown with no open batch: commit the positions of trailing dead letters in a block of its
    /// own, so a re-run does not read them again.
    fn commit_positions_only(&mut self) -> Result<(), SinkError> {
        self.sync_dead_letters()?;
        if self.touched.iter().all(Option::is_none) {
            self.dead_letters_settled(true);
            return Ok(());
        }
        self.block.reset();
        self.push_positions();
        let r = self.sink.commit(self.block.seal(), 0);
        self.block.reset();
        self.dead_letters_settled(r.is_ok());
        r
    }

    fn commit(&mut self, reason: FlushReason, pool: &BufferPool) -> Result<(), SinkError> {
        // Dead letters whose positions this block covers must be durable first.
        self.sync_dead_letters()?;
        let records = self.block.records();
        self.push_positions();
        let flushed = self.window.flush(reason, self.clock.now());
        let sealed = self.block.seal_with(self.codec).map_err(|e| {
            SinkError::Io(SysError::new(
                "compress",
                format!("batch {}", self.metrics.batches),
                e,
            ))
        });
        let started = self.clock.now();
        let outcome = sealed.and_then(|b| self.sink.commit(b, records));
        if let Some(a) = self.aimd.as_mut() {
            a.record_commit(self.clock.now().saturating_sub(started));
        }
        let result = match outcome {
            Ok(()) => {
                self.committed(0..records as usize);
                Ok(())
            }
            Err(SinkError::Rejected { reason }) if self.retry != RetryStrategy::FailStop => {
                self.recover(&reason)
            }
            Err(e) => Err(e),
        };
        self.block.reset();
        pool.give_back(&mut self.spent);
        self.intended.clear();
        if result.is_err() {
            // Nothing of this batch's records is reported committed past what `committed` and
            // `dead_letter` counted.
            let accounted = self.metrics.committed_in_batch + self.metrics.dead_in_batch;
            self.metrics.rejected_sink_failed += records as u64 - accounted;
            self.live.lost.add(records as u64 - accounted);
        }
        self.dead_letters_settled(result.is_ok());
        self.metrics.committed_in_batch = 0;
        self.metrics.dead_in_batch = 0;
        if result.is_ok() {
            self.metrics.batches += 1;
            Metrics::record(&mut self.metrics.batch_items, flushed.items as u64);
            Metrics::record(&mut self.metrics.batch_wait_ns, flushed.age);
        }
        result
    }

    /// Ingest: end the block with a control record of the inputs' positions, so they are committed
    /// with the records (one write, one fdatasync, one CRC).
    fn push_positions(&mut self) {
        if self.touched.iter().all(Option::is_none) {
            return;
        }
        let ps: Vec<(&str, Position)> = self
            .inputs
            .iter()
            .zip(&self.touched)
            .filter_map(|(k, p)| p.map(|p| (k.as_str(), p)))
            .collect();
        let dlq_seq = self.dlq.as_ref().map_or(0, DeadLetterQueue::last_seq);
        encode_control(&ps, dlq_seq, &mut self.control);
        self.block.push(&self.control);
        self.touched.iter_mut().for_each(|p| *p = None);
    }

    /// Records `range` of the current batch as durable now.
    fn committed(&mut self, range: std::ops::Range<usize>) {
        let done = self.clock.now();
        for &t in &self.intended[range.clone()] {
            Metrics::record(&mut self.metrics.latency_ns, done.saturating_sub(t));
            if let Some(a) = self.aimd.as_mut() {
                a.record_latency(done.saturating_sub(t));
            }
        }
        let n = range.len() as u64;
        self.metrics.committed += n;
        self.metrics.committed_in_batch += n;
        self.live.committed.add(n);
    }

    /// The sink rejected the sealed batch for its content: apply the retry strategy.
    fn recover(&mut self, first_reason: &str) -> Result<(), SinkError> {
        let sealed = self.block.seal().to_vec();
        let view = BlockReader::new(&sealed)
            .next()
            .and_then(Result::ok)
            .expect("a block we built ourselves parses");
        let records: Vec<&[u8]> = view
            .records()
            .map(|r| r.expect("a block we built ourselves parses"))
            .collect();
        let mut dead = Vec::new();
        match self.retry {
            RetryStrategy::FailStop => unreachable!("fail-stop does not recover"),
            RetryStrategy::SplitAndRetry => {
                let mut plan = SplitPlan::after_rejected_batch(records.len());
                while let Some(r) = plan.next_range() {
                    self.retry_block.reset();
                    for rec in &records[r.clone()] {
                        self.retry_block.push(rec);
                    }
                    self.metrics.retry_attempts += 1;
                    let sub = self
                        .retry_block
                        .seal_with(self.codec)
                        .map_err(|e| SinkError::Io(SysError::new("compress", "retry batch", e)))?;
                    match self.sink.commit(sub, r.len() as u32) {
                        Ok(()) => {
                            plan.accepted();
                            self.committed(r);
                        }
                        Err(SinkError::Rejected { reason }) => {
                            if let SplitStep::Isolated { index, attempts } = plan.rejected() {
                                dead.push((index, attempts, reason));
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            RetryStrategy::AbortWholeBatch { retries, backoff } => {
                let mut reason = first_reason.to_string();
                let sealed = self
                    .block
                    .seal_with(self.codec)
                    .map_err(|e| SinkError::Io(SysError::new("compress", "retry batch", e)))?
                    .to_vec();
                for k in 0..retries {
                    std::thread::sleep(backoff * 2u32.saturating_pow(k));
                    self.metrics.retry_attempts += 1;
                    match self.sink.commit(&sealed, records.len() as u32) {
                        Ok(()) => {
                            self.committed(0..records.len());
                            return Ok(());
                        }
                        Err(SinkError::Rejected { reason: r }) => reason = r,
                        Err(e) => return Err(e),
                    }
                }
                let why = format!("batch rejected {} times, aborted: {reason}", retries + 1);
                dead.extend((0..records.len()).map(|i| (i, retries + 1, why.clone())));
            }
        }
        self.dead_letter(&records, &dead)
    }

    /// Write `(index, attempts, reason)` entries of the current batch to the DLQ, durably.
    fn dead_letter(
        &mut self,
        records: &[&[u8]],
        dead: &[(usize, u32, String)],
    ) -> Result<(), SinkError> {
        if dead.is_empty() {
            return Ok(());
        }
        let dlq = self
            .dlq
            .as_mut()
            .expect("a retry strategy has a dead-letter queue");
        let mut refused = 0u64;
        for (index, attempts, reason) in dead {
            let rec = records[*index];
            let id = parse_id(rec);
            let pushed = dlq.push(
                &DeadLetter {
                    id: id.unwrap_or(u64::MAX),
                    reason: reason.clone(),
                    source: match id {
                        Some(id) => format!("generator seq {id}"),
                        None => format!("batch {} record {index}", self.metrics.batches),
                    },
                    attempts: *attempts,
                    ..DeadLetter::default()
                }
                .with_payload(rec, usize::MAX),
            );
            if pushed == DlqPush::Refused {
                refused += 1;
            }
        }
        dlq.sync().map_err(SinkError::Io)?;
        let n = dead.len() as u64;
        // Refused by a full DLQ: dropped (by reason dlq_full), still accounted for in this batch.
        self.metrics.dead_lettered += n - refused;
        self.metrics.dropped_dlq_full += refused;
        self.metrics.dead_in_batch += n;
        self.live.dead_lettered.add(n - refused);
        self.live.dropped.add(refused);
        Ok(())
    }
}
