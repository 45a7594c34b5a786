//! Prometheus metrics without a framework: a few labelled counters, gauges and histograms, rendered in the
//! text exposition format at `/metrics`. Labels never carry personal data.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

// Up to minutes: delivery reports can take that long.
const LATENCY_BUCKETS: [f64; 15] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 60.0, 300.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    gauges: Mutex<BTreeMap<(&'static str, String), i64>>,
    histograms: Mutex<BTreeMap<(&'static str, String), Histogram>>,
}

const HELP: &[(&str, &str, &str)] = &[
    ("orderguard_http_requests_total", "counter", "HTTP requests by route and status code."),
    ("orderguard_http_request_duration_seconds", "histogram", "HTTP request duration by route."),
    ("orderguard_verification_events_total", "counter", "Verification events by brand and type."),
    ("orderguard_sms_total", "counter", "SMS hand-offs by brand, provider, destination country and result."),
    (
        "orderguard_sms_submit_duration_seconds",
        "histogram",
        "Time to hand an SMS to a provider, by provider and country.",
    ),
    (
        "orderguard_sms_throttled_total",
        "counter",
        "Throttling answers (SMPP THROTTLED, MSGQFUL) by provider and country.",
    ),
    (
        "orderguard_sms_delivery_total",
        "counter",
        "Delivery reports by provider, country and result (delivered, failed).",
    ),
    (
        "orderguard_sms_delivery_seconds",
        "histogram",
        "Time from hand-off to the delivery report, by provider and country.",
    ),
    (
        "orderguard_sms_provider_skipped_total",
        "counter",
        "Messages that skipped a provider whose circuit breaker was open.",
    ),
    (
        "orderguard_identity_total",
        "counter",
        "Customer look-ups by brand, connector and result (resolved, unavailable, token_rejected, …).",
    ),
    ("orderguard_identity_duration_seconds", "histogram", "Time to look up a customer, by connector."),
    ("orderguard_order_outcomes_total", "counter", "Reported order outcomes by brand and outcome."),
    (
        "orderguard_order_loss_minor_units_total",
        "counter",
        "Reported losses by brand and currency, in minor units (cents).",
    ),
    ("orderguard_risk_reasons_total", "counter", "Risk reasons given to new verifications, by brand and reason."),
    (
        "orderguard_approvals_by_attempt_total",
        "counter",
        "Approved verifications by brand and the attempt that approved.",
    ),
    ("orderguard_time_to_approve_seconds", "histogram", "Time from the code's SMS to the approval, by brand."),
    ("orderguard_smpp_bind_up", "gauge", "1 while the SMPP bind is up, by provider and bind."),
    ("orderguard_smpp_binds_total", "counter", "Successful SMPP binds (a rising count means reconnects)."),
];

/// `key="value",…` with values escaped as the exposition format wants.
/// Built in one string: this runs for every request and every counted event.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

impl Metrics {
    pub fn increment(&self, name: &'static str, label_pairs: &[(&str, &str)]) {
        self.add(name, label_pairs, 1);
    }

    pub fn add(&self, name: &'static str, label_pairs: &[(&str, &str)], amount: u64) {
        if let Ok(mut counters) = self.counters.lock() {
            *counters.entry((name, labels(label_pairs))).or_default() += amount;
        }
    }

    pub fn set_gauge(&self, name: &'static str, label_pairs: &[(&str, &str)], value: i64) {
        if let Ok(mut gauges) = self.gauges.lock() {
            gauges.insert((name, labels(label_pairs)), value);
        }
    }

    pub fn observe(&self, name: &'static str, label_pairs: &[(&str, &str)], seconds: f64) {
        if let Ok(mut histograms) = self.histograms.lock() {
            let h = histograms.entry((name, labels(label_pairs))).or_default();
            h.count += 1;
            h.sum += seconds;
            for (bucket, bound) in h.buckets.iter_mut().zip(LATENCY_BUCKETS) {
                if seconds <= bound {
                    *bucket += 1;
                }
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            if let Ok(counters) = self.counters.lock() {
                for ((n, l), value) in counters.iter().filter(|((n, _), _)| n == name) {
                    let _ = writeln!(out, "{n}{{{l}}} {value}");
                }
            }
            if let Ok(gauges) = self.gauges.lock() {
                for ((n, l), value) in gauges.iter().filter(|((n, _), _)| n == name) {
                    let _ = writeln!(out, "{n}{{{l}}} {value}");
                }
            }
            if let Ok(histograms) = self.histograms.lock() {
                for ((n, l), h) in histograms.iter().filter(|((n, _), _)| n == name) {
                    let sep = if l.is_empty() { "" } else { "," };
                    for (bound, count) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                        let _ = writeln!(out, "{n}_bucket{{{l}{sep}le=\"{bound}\"}} {count}");
                    }
                    let _ = writeln!(out, "{n}_bucket{{{l}{sep}le=\"+Inf\"}} {}", h.count);
                    let _ = writeln!(out, "{n}_sum{{{l}}} {}", h.sum);
                    let _ = writeln!(out, "{n}_count{{{l}}} {}", h.count);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.increment("orderguard_sms_total", &[("provider", "dev"), ("result", "submitted")]);
        m.observe("orderguard_http_request_duration_seconds", &[("route", "/x")], 0.003);
        let text = m.render();
        assert!(text.contains("orderguard_sms_total{provider=\"dev\",result=\"submitted\"} 1"));
        assert!(text.contains("orderguard_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.005\"} 1"));
        assert!(text.contains("orderguard_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.0025\"} 0"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(super::labels(&[]), "");
        assert_eq!(super::labels(&[("route", "/v1/x")]), r#"route="/v1/x""#);
        assert_eq!(
            super::labels(&[("a", "say \"hi\""), ("b", "back\\slash\nline")]),
            r#"a="say \"hi\"",b="back\\slash\nline""#
        );
    }

    /// The Grafana dashboard in docs/ asks only for metrics that are exported.
    #[test]
    fn the_grafana_dashboard_uses_exported_metrics() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/grafana-dashboard.json")).unwrap();
        let mut exprs = Vec::new();
        collect_exprs(&dashboard, &mut exprs);
        assert!(exprs.len() > 20);
        for expr in exprs {
            for (start, _) in expr.match_indices("orderguard_") {
                let name: String = expr[start..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                let base =
                    ["_bucket", "_sum", "_count"].iter().fold(name.as_str(), |n, s| n.strip_suffix(s).unwrap_or(n));
                assert!(HELP.iter().any(|(known, _, _)| *known == base), "{name} in the dashboard is not exported");
            }
        }
    }

    fn collect_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    match v {
                        serde_json::Value::String(text) if key == "expr" => out.push(text.clone()),
                        _ => collect_exprs(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect_exprs(v, out)),
            _ => {}
        }
    }
}
