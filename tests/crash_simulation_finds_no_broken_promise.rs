//! A short run of the crash-and-fault simulation inside `cargo test` (debug build): a few seeds,
//! every durable operation of each crashed or failed. `make test` runs it to 30,000 crash points in
//! release (`ci/crash-sim.sh`); `make crash-sim-prove` shows it catches a planted bug.

#[test]
fn every_crash_point_of_a_few_seeded_workloads_keeps_every_promise() {
    let work = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("crash-sim-smoke");
    let mut points = 0;
    for seed in 0..6 {
        let out = ingest_lab::crashsim::run_seed(seed, 200, &work);
        assert!(out.ops > 0, "seed {seed} made no durable operation");
        points += out.points;
        assert!(out.violations.is_empty(), "{}", out.violations[0]);
    }
    assert!(points > 50, "{points} crash points");
}
