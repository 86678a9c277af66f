//! Maintenance windows: runs still happen and are recorded, reports say a window was
//! active, alerts about problems opened inside are held and sent at the window's end only
//! for the problems still open (on the daemon's injectable clock).

mod common;

use std::sync::Arc;
use std::time::Duration;

use backproof::catalog::Catalog;
use backproof::daemon::clock::TokioClock;
use common::*;

#[tokio::test(start_paused = true)]
async fn alerts_inside_a_window_are_held_and_the_ones_still_open_sent_at_its_end() {
    let now = chrono::Utc::now();
    let (from, to) = (
        now - chrono::Duration::hours(1),
        now + chrono::Duration::hours(2),
    );
    let f = two_target_fixture(&format!(
        "\n[[maintenance]]\nfrom = \"{}\"\nto = \"{}\"\n",
        from.to_rfc3339(),
        to.to_rfc3339()
    ));
    let text = std::fs::read_to_string(&f.config).unwrap();
    std::fs::write(
        &f.config,
        format!("{text}[[webhooks]]\nkind = \"slack\"\nurl = \"http://127.0.0.1:9/chat\"\n"),
    )
    .unwrap();
    let usb = f.dir.path().join("usb");
    assert_eq!(f.run_json("acme", &[]).0, 0);
    let usb_file = usb.join("u01.bak");
    let usb_orig = std::fs::read(&usb_file).unwrap();
    let usb_mtime = std::fs::metadata(&usb_file).unwrap().modified().unwrap();
    corrupt_in_place(&f.backups.join("set/f01.bak"));
    corrupt_in_place(&usb_file);

    // The run happens and is recorded, its verdict unchanged; it says a window was active.
    let out = f.backproof(&["run", "acme"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("A maintenance window was active"),
        "{}",
        out.stdout
    );
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    assert!(ev["maintenance"]["until"].is_string(), "{ev:#}");
    let opened_run = ev["targets"][0]["problems"][0]["opened_run"]
        .as_str()
        .unwrap()
        .to_string();

    // Inside the window, the usb problem is fixed: it is never alerted.
    std::fs::write(&usb_file, &usb_orig).unwrap();
    set_mtime(&usb_file, usb_mtime);
    assert_eq!(f.run_json("acme", &[]).0, 1);

    let config = Arc::new(backproof::config::load(&f.config).unwrap());
    let catalog = Catalog::open(&f.data_dir()).unwrap();
    let alerts = |c: &Catalog| -> Vec<backproof::catalog::OutboxItem> {
        c.outbox()
            .unwrap()
            .into_iter()
            .filter(|i| i.subject.contains("[FAIL]"))
            .collect()
    };
    let opened = |c: &Catalog| {
        c.webhooks()
            .unwrap()
            .into_iter()
            .filter(|w| w.event == "problem.opened")
            .count()
    };
    assert!(
        alerts(&catalog).is_empty(),
        "alerted inside the window: {:#?}",
        alerts(&catalog)
    );
    assert_eq!(opened(&catalog), 0);

    let clock = Arc::new(TokioClock::starting_at(chrono::Utc::now()));
    let cancel = tokio_util::sync::CancellationToken::new();
    let c = config.clone();
    let task = tokio::spawn(backproof::daemon::remind::run(
        move || c.clone(),
        catalog.clone(),
        clock,
        cancel.clone(),
        || {},
    ));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(
        alerts(&catalog).is_empty(),
        "released before the window's end"
    );
    tokio::time::sleep(Duration::from_secs(3700)).await;
    let held = alerts(&catalog);
    assert_eq!(held.len(), 1, "only the problem still open: {held:#?}");
    assert!(
        held[0]
            .subject
            .contains("[FAIL] Acme Dental: corruption on nas"),
        "{}",
        held[0].subject
    );
    assert!(held[0].subject.starts_with("[BP-"));
    assert_eq!(
        held[0].message_id,
        format!("<run-{opened_run}.acme@localhost>"),
        "it is the problem's opening message"
    );
    assert!(held[0].message.contains("This alert was held"));
    assert_eq!(opened(&catalog), 1);
    // Released once.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(alerts(&catalog).len(), 1);
    cancel.cancel();
    task.await.unwrap();
}

#[test]
fn a_maintenance_entry_needs_a_schedule_and_duration_or_from_and_to() {
    let f = Fixture::new("");
    let job = f.dir.path().join("jobs.d/acme.toml");
    let text = std::fs::read_to_string(&job).unwrap();
    std::fs::write(&job, format!("{text}\n[[maintenance]]\nschedule = \"0 22 * * 6\"\n\n[[maintenance]]\nfrom = \"2026-12-02 06:00\"\nto = \"2026-12-01 20:00\"\n")).unwrap();
    let out = f.backproof(&["check-config"]);
    assert_eq!(out.code, 2);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("maintenance[1].schedule") && all.contains("give either schedule"),
        "{all}"
    );
    assert!(
        all.contains("maintenance[2].to") && all.contains("must be after `from`"),
        "{all}"
    );
}

#[test]
fn a_recurring_window_holds_the_failure_report_of_a_run_inside_it() {
    let f = Fixture::new("sample_files = 100");
    for i in 0..3 {
        f.file(
            &format!("set/f{i:02}.bak"),
            4_000 + i * 101,
            hours(1 + 24 * i as u64),
        );
    }
    let job = f.dir.path().join("jobs.d/acme.toml");
    let text = std::fs::read_to_string(&job).unwrap();
    assert_eq!(f.run_json("acme", &[]).0, 0);
    corrupt_in_place(&f.backups.join("set/f01.bak"));
    // Every minute for two minutes: always in force.
    std::fs::write(
        &job,
        format!("{text}\n[[maintenance]]\nschedule = \"* * * * *\"\nduration = \"2m\"\n"),
    )
    .unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    assert!(ev["maintenance"]["from"].is_string(), "{ev:#}");
    let written = std::fs::read_dir(f.data_dir().join("mail"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(written, 0, "the failure report was not held");
    // Without the window, the same failure is emailed at once.
    std::fs::write(&job, &text).unwrap();
    let (code, ev) = f.run_json("acme", &[]);
    assert_eq!(code, 1);
    assert!(ev.get("maintenance").is_none());
    let written = std::fs::read_dir(f.data_dir().join("mail"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(written, 1);
}
