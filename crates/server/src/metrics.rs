//! Prometheus metrics: labelled counters, gauges and histograms, declared once in [`DECLARED`] and
//! rendered by the `prometheus` crate in the text exposition format (version 0.0.4) at `/metrics`.
//! Labels never carry personal data.

use std::collections::HashMap;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

// Up to minutes: delivery reports can take that long.
const LATENCY_BUCKETS: [f64; 15] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 60.0, 300.0];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One exported metric. The Grafana dashboard in docs/ and alert rules depend on these names, labels
/// and help texts: changing one changes the monitoring interface.
struct Declared {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    labels: &'static [&'static str],
}

/// The most labels a declared metric has, so that a call gathers its label values without allocating.
const MAX_LABELS: usize = 4;

const DECLARED: &[Declared] = &[
    Declared {
        name: "orderguard_http_requests_total",
        kind: Kind::Counter,
        help: "HTTP requests by route and status code.",
        labels: &["route", "method", "status"],
    },
    Declared {
        name: "orderguard_http_request_duration_seconds",
        kind: Kind::Histogram,
        help: "HTTP request duration by route.",
        labels: &["route"],
    },
    Declared {
        name: "orderguard_verification_events_total",
        kind: Kind::Counter,
        help: "Verification events by brand and type.",
        labels: &["brand", "type"],
    },
    Declared {
        name: "orderguard_sms_total",
        kind: Kind::Counter,
        help: "SMS hand-offs by brand, provider, destination country and result.",
        labels: &["brand", "provider", "country", "result"],
    },
    Declared {
        name: "orderguard_sms_submit_duration_seconds",
        kind: Kind::Histogram,
        help: "Time to hand an SMS to a provider, by provider and country.",
        labels: &["provider", "country"],
    },
    Declared {
        name: "orderguard_sms_throttled_total",
        kind: Kind::Counter,
        help: "Throttling answers (SMPP THROTTLED, MSGQFUL) by provider and country.",
        labels: &["provider", "country"],
    },
    Declared {
        name: "orderguard_sms_delivery_total",
        kind: Kind::Counter,
        help: "Delivery reports by provider, country and result (delivered, failed).",
        labels: &["provider", "country", "result"],
    },
    Declared {
        name: "orderguard_sms_delivery_seconds",
        kind: Kind::Histogram,
        help: "Time from hand-off to the delivery report, by provider and country.",
        labels: &["provider", "country"],
    },
    Declared {
        name: "orderguard_sms_provider_skipped_total",
        kind: Kind::Counter,
        help: "Messages that skipped a provider whose circuit breaker was open.",
        labels: &["provider"],
    },
    Declared {
        name: "orderguard_identity_total",
        kind: Kind::Counter,
        help: "Customer look-ups by brand, connector and result (resolved, unavailable, token_rejected, …).",
        labels: &["brand", "connector", "result"],
    },
    Declared {
        name: "orderguard_identity_duration_seconds",
        kind: Kind::Histogram,
        help: "Time to look up a customer, by connector.",
        labels: &["connector"],
    },
    Declared {
        name: "orderguard_network_api_calls_total",
        kind: Kind::Counter,
        help: "Network checks (CAMARA SIM Swap, Device Swap) by API, gateway and outcome (swapped, not_swapped, unavailable).",
        labels: &["api", "gateway", "outcome"],
    },
    Declared {
        name: "orderguard_network_api_duration_seconds",
        kind: Kind::Histogram,
        help: "Time of a network check, token included, by API and gateway.",
        labels: &["api", "gateway"],
    },
    Declared {
        name: "orderguard_network_api_detections_total",
        kind: Kind::Counter,
        help: "Recent SIM or device swaps that changed a decision, by API, age band and brand.",
        labels: &["api", "band", "brand"],
    },
    Declared {
        name: "orderguard_webhook_deliveries_total",
        kind: Kind::Counter,
        help: "Webhook delivery attempts by brand, endpoint and outcome (delivered, retry, failed, gone).",
        labels: &["brand", "endpoint", "outcome"],
    },
    Declared {
        name: "orderguard_webhook_delivery_duration_seconds",
        kind: Kind::Histogram,
        help: "Time a webhook receiver took to answer, by endpoint.",
        labels: &["endpoint"],
    },
    Declared {
        name: "orderguard_alerts_open",
        kind: Kind::Gauge,
        help: "Alerts raised and not yet resolved (open or acknowledged), by brand, rule and severity (docs/alerts.md).",
        labels: &["brand", "rule", "severity"],
    },
    Declared {
        name: "orderguard_alert_evaluation_lag_seconds",
        kind: Kind::Gauge,
        help: "How far the alert evaluator is behind the clock (set by the instance that holds its lease).",
        labels: &[],
    },
    Declared {
        name: "orderguard_webhook_queue_depth",
        kind: Kind::Gauge,
        help: "Webhook deliveries waiting to be delivered (due or to be tried again), by brand and endpoint.",
        labels: &["brand", "endpoint"],
    },
    Declared {
        name: "orderguard_webhook_oldest_undelivered_seconds",
        kind: Kind::Gauge,
        help: "Age of the oldest webhook delivery not delivered yet, by brand and endpoint.",
        labels: &["brand", "endpoint"],
    },
    Declared {
        name: "orderguard_order_outcomes_total",
        kind: Kind::Counter,
        help: "Reported order outcomes by brand and outcome.",
        labels: &["brand", "outcome"],
    },
    Declared {
        name: "orderguard_order_loss_minor_units_total",
        kind: Kind::Counter,
        help: "Reported losses by brand and currency, in minor units (cents).",
        labels: &["brand", "currency"],
    },
    Declared {
        name: "orderguard_risk_reasons_total",
        kind: Kind::Counter,
        help: "Risk reasons given to new verifications, by brand and reason.",
        labels: &["brand", "reason"],
    },
    Declared {
        name: "orderguard_risk_duration_seconds",
        kind: Kind::Histogram,
        help: "Time of the risk step of a new verification (lists, activity rows, rules), by brand.",
        labels: &["brand"],
    },
    Declared {
        name: "orderguard_risk_shadow_reasons_total",
        kind: Kind::Counter,
        help: "Rules in shadow mode that fired (recorded, not counted in the decision), by brand and reason.",
        labels: &["brand", "reason"],
    },
    Declared {
        name: "orderguard_limit_refusals_total",
        kind: Kind::Counter,
        help: "Verifications, checks, resends and codes sent after review refused by a hard limit, by brand, limit and action.",
        labels: &["action", "brand", "limit"],
    },
    Declared {
        name: "orderguard_lockouts_total",
        kind: Kind::Counter,
        help: "Wrong-code locks engaged, by brand and subject (customer, number).",
        labels: &["brand", "subject"],
    },
    Declared {
        name: "orderguard_approvals_by_attempt_total",
        kind: Kind::Counter,
        help: "Approved verifications by brand and the attempt that approved.",
        labels: &["brand", "attempt"],
    },
    Declared {
        name: "orderguard_time_to_approve_seconds",
        kind: Kind::Histogram,
        help: "Time from the code's SMS to the approval, by brand.",
        labels: &["brand"],
    },
    Declared {
        name: "orderguard_smpp_bind_up",
        kind: Kind::Gauge,
        help: "1 while the SMPP bind is up, by provider and bind.",
        labels: &["provider", "bind"],
    },
    Declared {
        name: "orderguard_smpp_binds_total",
        kind: Kind::Counter,
        help: "Successful SMPP binds (a rising count means reconnects).",
        labels: &["provider", "bind"],
    },
];

/// Why a value was not recorded: a call that does not match its declaration in [`DECLARED`].
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("no {0:?} of that name is declared")]
    Undeclared(Kind),
    #[error("the labels are not the declared {0:?}")]
    Labels(&'static [&'static str]),
    #[error(transparent)]
    Prometheus(#[from] prometheus::Error),
}

/// The series of one declared metric, and the label names it was declared with.
struct Family<V> {
    labels: &'static [&'static str],
    series: V,
}

pub struct Metrics {
    registry: Registry,
    counters: HashMap<&'static str, Family<IntCounterVec>>,
    gauges: HashMap<&'static str, Family<IntGaugeVec>>,
    histograms: HashMap<&'static str, Family<HistogramVec>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut metrics = Self {
            registry: Registry::new(),
            counters: HashMap::new(),
            gauges: HashMap::new(),
            histograms: HashMap::new(),
        };
        for declared in DECLARED {
            if let Err(e) = metrics.register(declared) {
                tracing::error!(metric = declared.name, "cannot register the metric: {e}");
            }
        }
        metrics
    }
}

impl Metrics {
    fn register(&mut self, declared: &Declared) -> Result<(), prometheus::Error> {
        let opts = Opts::new(declared.name, declared.help);
        let labels = declared.labels;
        match declared.kind {
            Kind::Counter => {
                let series = IntCounterVec::new(opts, labels)?;
                self.registry.register(Box::new(series.clone()))?;
                self.counters.insert(declared.name, Family { labels, series });
            }
            Kind::Gauge => {
                let series = IntGaugeVec::new(opts, labels)?;
                self.registry.register(Box::new(series.clone()))?;
                self.gauges.insert(declared.name, Family { labels, series });
            }
            Kind::Histogram => {
                let opts = HistogramOpts::from(opts).buckets(LATENCY_BUCKETS.to_vec());
                let series = HistogramVec::new(opts, labels)?;
                self.registry.register(Box::new(series.clone()))?;
                self.histograms.insert(declared.name, Family { labels, series });
            }
        }
        Ok(())
    }

    pub fn increment(&self, name: &'static str, label_pairs: &[(&str, &str)]) {
        self.add(name, label_pairs, 1);
    }

    pub fn add(&self, name: &'static str, label_pairs: &[(&str, &str)], amount: u64) {
        record(&self.counters, Kind::Counter, name, label_pairs, |counters, values| {
            counters.get_metric_with_label_values(values)?.inc_by(amount);
            Ok(())
        });
    }

    pub fn set_gauge(&self, name: &'static str, label_pairs: &[(&str, &str)], value: i64) {
        record(&self.gauges, Kind::Gauge, name, label_pairs, |gauges, values| {
            gauges.get_metric_with_label_values(values)?.set(value);
            Ok(())
        });
    }

    pub fn observe(&self, name: &'static str, label_pairs: &[(&str, &str)], seconds: f64) {
        record(&self.histograms, Kind::Histogram, name, label_pairs, |histograms, values| {
            histograms.get_metric_with_label_values(values)?.observe(seconds);
            Ok(())
        });
    }

    pub fn render(&self) -> String {
        TextEncoder::new().encode_to_string(&self.registry.gather()).unwrap_or_else(|e| {
            tracing::error!("cannot render the metrics: {e}");
            String::new()
        })
    }
}

/// Hands `update` the family `name` and the values of `label_pairs` in the declared label order
/// (callers name their labels; the crate takes the values by position). A call that does not match
/// its declaration is a bug: it is logged, and the value is dropped rather than failing the request.
fn record<V>(
    families: &HashMap<&'static str, Family<V>>,
    kind: Kind,
    name: &str,
    label_pairs: &[(&str, &str)],
    update: impl FnOnce(&V, &[&str]) -> Result<(), prometheus::Error>,
) {
    let recorded = families.get(name).ok_or(RecordError::Undeclared(kind)).and_then(|family| {
        let mismatch = RecordError::Labels(family.labels);
        if label_pairs.len() != family.labels.len() {
            return Err(mismatch);
        }
        let mut values = [""; MAX_LABELS];
        for (value, label) in values.iter_mut().zip(family.labels) {
            match label_pairs.iter().find(|(key, _)| key == label) {
                Some((_, given)) => *value = given,
                None => return Err(mismatch),
            }
        }
        let values = values.get(..family.labels.len()).ok_or(mismatch)?;
        Ok(update(&family.series, values)?)
    });
    if let Err(e) = recorded {
        tracing::error!(metric = name, "not recorded: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.increment(
            "orderguard_sms_total",
            &[("brand", "a"), ("provider", "dev"), ("country", "DE"), ("result", "submitted")],
        );
        m.add("orderguard_order_loss_minor_units_total", &[("brand", "a"), ("currency", "EUR")], 1999);
        m.set_gauge("orderguard_smpp_bind_up", &[("provider", "smsc"), ("bind", "tx")], 1);
        m.observe("orderguard_http_request_duration_seconds", &[("route", "/x")], 0.003);
        let text = m.render();
        assert!(
            text.contains("orderguard_sms_total{brand=\"a\",country=\"DE\",provider=\"dev\",result=\"submitted\"} 1\n")
        );
        assert!(text.contains("orderguard_order_loss_minor_units_total{brand=\"a\",currency=\"EUR\"} 1999\n"));
        assert!(text.contains("orderguard_smpp_bind_up{bind=\"tx\",provider=\"smsc\"} 1\n"));
        assert!(text.contains("orderguard_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.0025\"} 0\n"));
        assert!(text.contains("orderguard_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.005\"} 1\n"));
        assert!(text.contains("orderguard_http_request_duration_seconds_bucket{route=\"/x\",le=\"+Inf\"} 1\n"));
        assert!(text.contains("orderguard_http_request_duration_seconds_sum{route=\"/x\"} 0.003\n"));
        assert!(text.contains("orderguard_http_request_duration_seconds_count{route=\"/x\"} 1\n"));
    }

    /// Callers name their labels; the order they pass them in does not matter.
    #[test]
    fn label_values_go_to_their_declared_names() {
        let m = Metrics::default();
        m.increment("orderguard_http_requests_total", &[("status", "200"), ("route", "/x"), ("method", "GET")]);
        m.increment("orderguard_http_requests_total", &[("route", "/x"), ("method", "GET"), ("status", "200")]);
        assert!(m.render().contains("orderguard_http_requests_total{method=\"GET\",route=\"/x\",status=\"200\"} 2\n"));
    }

    /// A call that does not match its declaration records nothing (and leaves the other series alone).
    #[test]
    fn undeclared_metrics_and_labels_are_not_recorded() {
        let m = Metrics::default();
        m.increment("orderguard_not_declared_total", &[("brand", "a")]);
        m.increment("orderguard_verification_events_total", &[("brand", "a")]);
        m.increment("orderguard_verification_events_total", &[("brand", "a"), ("kind", "created")]);
        m.increment("orderguard_verification_events_total", &[("brand", "a"), ("type", "created"), ("x", "y")]);
        m.observe("orderguard_verification_events_total", &[("brand", "a"), ("type", "created")], 1.0);
        assert_eq!(m.render(), "");
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.increment("orderguard_risk_reasons_total", &[("brand", "a"), ("reason", "say \"hi\" back\\slash\nline")]);
        assert!(
            m.render().contains(r#"orderguard_risk_reasons_total{brand="a",reason="say \"hi\" back\\slash\nline"} 1"#)
        );
    }

    /// Every declared metric, once it has a series, is exported with its help text and type, each
    /// sample line in the text format (`name{labels} value`) and the declared label names.
    #[test]
    fn every_declared_metric_is_exported_with_help_and_type() {
        let m = Metrics::default();
        for declared in DECLARED {
            let pairs: Vec<(&str, &str)> = declared.labels.iter().map(|label| (*label, "v")).collect();
            match declared.kind {
                Kind::Counter => m.increment(declared.name, &pairs),
                Kind::Gauge => m.set_gauge(declared.name, &pairs, 1),
                Kind::Histogram => m.observe(declared.name, &pairs, 0.5),
            }
        }
        let text = m.render();
        for declared in DECLARED {
            let kind = format!("{:?}", declared.kind).to_lowercase();
            assert!(text.contains(&format!("# HELP {} {}\n", declared.name, declared.help)), "{}", declared.name);
            assert!(text.contains(&format!("# TYPE {} {kind}\n", declared.name)), "{}", declared.name);
        }
        let mut samples = 0;
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
            // A series without labels has no braces.
            let (name, labels) = series.strip_suffix('}').and_then(|s| s.split_once('{')).unwrap_or((series, ""));
            let declared = DECLARED
                .iter()
                .find(|d| {
                    let suffixes: &[&str] =
                        if d.kind == Kind::Histogram { &["_bucket", "_sum", "_count"] } else { &[""] };
                    suffixes.iter().any(|suffix| name.strip_suffix(suffix) == Some(d.name))
                })
                .unwrap_or_else(|| panic!("{name} is not declared"));
            let pairs = labels.split(',').filter(|pair| !pair.is_empty());
            let mut names: Vec<&str> = pairs.map(|pair| pair.split_once("=\"").unwrap().0).collect();
            names.retain(|label| *label != "le" || !name.ends_with("_bucket"));
            let mut expected = declared.labels.to_vec();
            expected.sort_unstable();
            assert_eq!(names, expected, "{line}");
            samples += 1;
        }
        let histograms = DECLARED.iter().filter(|d| d.kind == Kind::Histogram).count();
        assert_eq!(samples, DECLARED.len() + histograms * (LATENCY_BUCKETS.len() + 2));
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
                assert!(
                    DECLARED.iter().any(|declared| declared.name == base),
                    "{name} in the dashboard is not exported"
                );
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
