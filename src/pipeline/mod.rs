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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::batch::AimdDriver;
use crate::clock::{Clock, MonotonicClock, Nanos};
use crate::codec::control::Position;
use crate::config::{LoadShape, RunConfig, WindowConfig, WindowMode};
use crate::error::SysError;
use crate::host::CpuMeter;
use crate::load::Schedule;
use crate::payload::PayloadSource;
use crate::queue::{BoundedQueue, BufferPool, OverflowPolicy, SpillFile};
use crate::retry::{DeadLetterQueue, RetryStrategy};
use crate::sink::{free_bytes, FileSink, FsInfo, Sink};
use crate::summary::RunError;
use crate::summary::{RunReport, RunSettings};

use crate::item::Item;

mod batcher;
mod generator;
mod retry;
mod sampler;

pub(crate) use crate::counters::Live;
use batcher::Batcher;
use generator::generate;
pub(crate) use generator::GenOutcome;
use sampler::sample;
pub(crate) use sampler::Ends;

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
pub(super) const POOL_CHUNK: usize = 256;
/// Start the schedule this far after set-up, so the first items are not born late.
pub(super) const START_LEAD: Duration = Duration::from_millis(5);
/// Shortest generator sleep: below this, sleeping costs more than it waits, so the generator sleeps
/// this long and then sends everything that has come due.
pub(super) const MIN_SLEEP: Duration = Duration::from_micros(50);
/// Longest generator sleep (how long a shutdown request can go unseen).
pub(super) const MAX_SLEEP: Duration = Duration::from_millis(50);

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

/// Run the pipeline into any sink (e.g. [`crate::sink::NullSink`] to measure in-process overhead).
pub fn run_with_sink<S: Sink + 'static>(cfg: &RunConfig, sink: S) -> Result<RunReport, RunError> {
    cfg.validate()?;
    let mut schedule = Schedule::new(&cfg.load.shape, cfg.load.rate)?;
    let mut payloads =
        PayloadSource::new(cfg.load.payload, cfg.load.item_bytes, cfg.load.payload_seed);
    run_with_producer(cfg, sink, Sources::default(), |ends, start| {
        generate(
            &cfg.load,
            &cfg.control,
            &mut schedule,
            &mut payloads,
            ends,
            start,
        )
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
    let queue = Arc::new(match &cfg.queue.policy {
        OverflowPolicy::Spill { dir, max_bytes } => {
            let dir = dir.clone().unwrap_or_else(|| cfg.sink.dir.join("spill"));
            let store = SpillFile::open_on(&cfg.sink.storage, &dir, *max_bytes)
                .map_err(|e| RunError::Setup(SysError::new("open spill", dir.clone(), e)))?;
            BoundedQueue::<Item>::with_spill(
                cfg.queue.capacity_items,
                cfg.queue.policy.clone(),
                Box::new(store),
            )
            .with_byte_capacity(cfg.queue.capacity_bytes, Item::weight)
        }
        p => BoundedQueue::<Item>::new(cfg.queue.capacity_items, p.clone())
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

    let published = cfg
        .observe
        .metrics_addr
        .map(|_| Arc::new(std::sync::Mutex::new(None::<RunReport>)));
    let batcher = {
        let (queue, pool, live) = (Arc::clone(&queue), Arc::clone(&pool), Arc::clone(&live));
        let mut b = Batcher::new(effective_window(cfg), clock, sink, live);
        if let WindowMode::Aimd(a) = cfg.window_mode {
            b.aimd = Some(AimdDriver::new(a, cfg.slo, cfg.window.linger, clock.now()));
        }
        b.retry = cfg.retry;
        b.dlq = dlq;
        b.codec = cfg.compress;
        b.publish = published.clone();
        b.requests = cfg.control.clone();
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
    let metrics_server = match cfg.observe.metrics_addr {
        None => None,
        Some(addr) => {
            let (queue, live, stop) = (
                Arc::clone(&queue),
                Arc::clone(&live),
                Arc::clone(&stop_sampling),
            );
            let published = published.clone().expect("made when there is an address");
            let labels = settings(cfg);
            let (bound, h) = crate::prometheus::serve(addr, stop, move || {
                // The batcher's report first, then the live counters: these are never older.
                let report = published.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let counters = live.snapshot(&queue);
                crate::prometheus::render_live(report.as_ref(), &labels, &counters)
            })
            .map_err(|e| RunError::Setup(SysError::new("bind metrics", addr.to_string(), e)))?;
            eprintln!("metrics: http://{bound}/metrics");
            Some(h)
        }
    };
    let progress = cfg.observe.progress.clone().map(|p| {
        let (queue, live, stop) = (
            Arc::clone(&queue),
            Arc::clone(&live),
            Arc::clone(&stop_sampling),
        );
        crate::progress::spawn(p, stop, move || live.snapshot(&queue))
    });
    let start = clock.now() + START_LEAD.as_nanos() as Nanos;
    // The time series is on the schedule's clock: a sample's t_s is the load's own offset.
    let sampler = cfg.observe.sample_every.map(|every| {
        let (queue, live, stop) = (
            Arc::clone(&queue),
            Arc::clone(&live),
            Arc::clone(&stop_sampling),
        );
        std::thread::Builder::new()
            .name("ingest-sampler".into())
            .spawn(move || sample(every, &clock, start, &queue, &live, &stop))
            .expect("spawn sampler thread")
    });

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
    if cfg.control.stop_requested() {
        report.warnings.push(
            "stopped early (SIGINT/SIGTERM, or the run's control): intake stopped, everything accepted was flushed"
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
            (LoadShape::Profile(p), _) => format!("{p:?}"),
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
