//! How far a long command got: on a terminal a bar with the time left (indicatif); otherwise (a
//! log file, a deploy pipeline) a plain log line every ten seconds, with the time left when the
//! total is known.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Between two plain log lines.
const LINE_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    what: &'static str,
    total: Option<u64>,
    done: u64,
    started: Instant,
    last_line: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// `what` is counted, `total` of them if known.
    pub fn new(what: &'static str, total: Option<u64>) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let (bar, template) = match total {
                Some(total) => {
                    (ProgressBar::new(total), "{msg} {wide_bar} {human_pos}/{human_len} ({per_sec:0}, {eta} left)")
                }
                None => (ProgressBar::new_spinner(), "{spinner} {msg}: {human_pos} ({per_sec:0}, {elapsed})"),
            };
            bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
            bar.set_message(what);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Self { what, total, done: 0, started: now, last_line: now, bar }
    }

    pub fn add(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        } else if self.last_line.elapsed() >= LINE_EVERY {
            self.last_line = Instant::now();
            match self.seconds_left() {
                Some(left) => tracing::info!(
                    what = self.what,
                    done = self.done,
                    total = self.total,
                    seconds_left = left,
                    "progress"
                ),
                None => tracing::info!(what = self.what, done = self.done, "progress"),
            }
        }
    }

    /// At the rate so far.
    fn seconds_left(&self) -> Option<u64> {
        let total = self.total?;
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = self.done as f64 / elapsed.max(0.001);
        (rate > 0.0).then(|| (total.saturating_sub(self.done) as f64 / rate).round() as u64)
    }

    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_time_left_follows_the_rate_so_far() {
        let mut progress = super::Progress::new("events", Some(1_000));
        progress.started -= std::time::Duration::from_secs(10);
        progress.done = 250;
        let left = progress.seconds_left().unwrap();
        assert!((29..=31).contains(&left), "{left}");
        assert_eq!(super::Progress::new("rounds", None).seconds_left(), None);
    }
}
