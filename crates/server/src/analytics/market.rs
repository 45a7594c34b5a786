//! The brand against the market: what one brand counted in a slot of time (`Tally`) and its
//! figures (`MarketMetric`), the other brands' aggregate (shown only where enough of them
//! contribute, none named), the slots of a trend by day, week or month, published figures read
//! from CSV and set year on year beside the brand's own.

use std::collections::BTreeMap;

use orderguard_domain::money::{Currency, ExchangeRates, Money};
use orderguard_domain::risk::RiskReason;

use super::{DAY_MS, day_of};
use crate::records::market::{MarketMetric, Reference};

/// Fewer other brands than this and the aggregate would give one of them away.
pub const MIN_OTHER_BRANDS: usize = 3;

/// The counter dimensions the comparison reads.
pub const DIMENSIONS: [&str; 6] = ["event", "outcome", "loss", "network_check", "lockout", "limit_refusal"];

/// The values of the `event` dimension it reads (the store reads no others: the dimension has a
/// value per event type, most of which the comparison does not need).
pub const EVENTS: [&str; 3] = ["verification.created", "verification.blocked", "verification.held"];

/// What one brand counted in one slot of time, as far as the market comparison is concerned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Orders with a reported outcome, and those confirmed as fraud.
    pub orders: i64,
    pub fraud: i64,
    /// Losses in whole units of the comparison's currency.
    pub losses: f64,
    /// A loss was in a currency without an exchange rate: the losses are not comparable.
    pub losses_unconverted: bool,
    pub verifications: i64,
    pub blocked_or_held: i64,
    pub sim_swaps: i64,
    pub device_swaps: i64,
    pub lockouts: i64,
    pub pumping_blocks: i64,
}

impl Tally {
    /// Adds `n` of one counter (a loss in minor units of the currency `value`).
    pub fn count(&mut self, dimension: &str, value: &str, n: i64, rates: &ExchangeRates) {
        match (dimension, value) {
            ("outcome", outcome) => {
                self.orders += n;
                if outcome == "fraud_confirmed" {
                    self.fraud += n;
                }
            }
            ("loss", code) => {
                let converted = Currency::parse(code).ok().and_then(|c| rates.to_base(Money::from_minor(n, c)));
                match converted {
                    Some(units) => self.losses += units,
                    None => self.losses_unconverted = true,
                }
            }
            ("event", "verification.created") => self.verifications += n,
            ("event", "verification.blocked" | "verification.held") => self.blocked_or_held += n,
            ("network_check", "sim_swap|swapped") => self.sim_swaps += n,
            ("network_check", "device_swap|swapped") => self.device_swaps += n,
            ("lockout", _) => self.lockouts += n,
            ("limit_refusal", refusal) => {
                let reason = refusal.split_once('|').and_then(|(_, reason)| RiskReason::parse(reason));
                if reason.is_some_and(RiskReason::is_pumping_defence) {
                    self.pumping_blocks += n;
                }
            }
            _ => {}
        }
    }

    pub fn add(&mut self, other: &Tally) {
        self.orders += other.orders;
        self.fraud += other.fraud;
        self.losses += other.losses;
        self.losses_unconverted |= other.losses_unconverted;
        self.verifications += other.verifications;
        self.blocked_or_held += other.blocked_or_held;
        self.sim_swaps += other.sim_swaps;
        self.device_swaps += other.device_swaps;
        self.lockouts += other.lockouts;
        self.pumping_blocks += other.pumping_blocks;
    }

    /// What a figure is divided by: reported orders or started verifications.
    fn base(&self, metric: MarketMetric) -> i64 {
        match metric {
            MarketMetric::ConfirmedFraud | MarketMetric::Losses => self.orders,
            _ => self.verifications,
        }
    }

    /// The figure, `None` without anything to divide by (or losses that cannot be compared).
    pub fn figure(&self, metric: MarketMetric) -> Option<f64> {
        let base = self.base(metric);
        if base == 0 || (metric == MarketMetric::Losses && self.losses_unconverted) {
            return None;
        }
        let (count, scale) = match metric {
            MarketMetric::ConfirmedFraud => (self.fraud as f64, 1000.0),
            MarketMetric::Losses => (self.losses, 1000.0),
            MarketMetric::BlockedOrHeld => (self.blocked_or_held as f64, 100.0),
            MarketMetric::SimSwaps => (self.sim_swaps as f64, 1000.0),
            MarketMetric::DeviceSwaps => (self.device_swaps as f64, 1000.0),
            MarketMetric::Lockouts => (self.lockouts as f64, 1000.0),
            MarketMetric::PumpingBlocks => (self.pumping_blocks as f64, 1000.0),
        };
        Some(count * scale / base as f64)
    }
}

/// No one of the other brands may make up more than this share of what the aggregate divides
/// by: the figure would be mostly that brand's own.
pub const MAX_SHARE_OF_ONE: f64 = 0.6;

/// The other brands' figure together: only brands with something to divide by count, only where
/// at least `MIN_OTHER_BRANDS` of them do and none dominates.
pub fn others_figure(others: &[Tally], metric: MarketMetric) -> Option<f64> {
    let contributing: Vec<&Tally> = others.iter().filter(|t| t.figure(metric).is_some()).collect();
    if contributing.len() < MIN_OTHER_BRANDS {
        return None;
    }
    let mut together = Tally::default();
    contributing.iter().for_each(|t| together.add(t));
    let total = together.base(metric) as f64;
    if contributing.iter().any(|t| t.base(metric) as f64 > MAX_SHARE_OF_ONE * total) {
        return None;
    }
    together.figure(metric)
}

/// Change from `before` to `now` in per cent; `None` without both or from zero.
pub fn change(before: Option<f64>, now: Option<f64>) -> Option<f64> {
    let before = before.filter(|b| *b != 0.0)?;
    Some((now? / before - 1.0) * 100.0)
}

/// The brand's change against the period before, set against the other brands' change, in words.
pub fn against_market(own_change: Option<f64>, others_change: Option<f64>) -> &'static str {
    // Changes within a point of each other are no story.
    const IN_STEP: f64 = 1.0;
    match (own_change, others_change) {
        (Some(own), Some(others)) if own > others + IN_STEP => {
            if own > 0.0 {
                "rising faster than the market"
            } else {
                "falling slower than the market"
            }
        }
        (Some(own), Some(others)) if own < others - IN_STEP => {
            if own < 0.0 {
                "falling faster than the market"
            } else {
                "rising slower than the market"
            }
        }
        (Some(_), Some(_)) => "in step with the market",
        _ => "no comparison yet",
    }
}

/// How long one point of a trend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Hour,
    Day,
    Week,
    Month,
}

impl Grain {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// What suits a period of `days` where hours are counted too: hours for a day or two.
    pub fn for_days_by_hour(days: i64) -> Self {
        if days <= 2 { Self::Hour } else { Self::for_days(days).min_week() }
    }

    /// Weeks at most (the pages whose counters are not compared month by month).
    fn min_week(self) -> Self {
        if self == Self::Month { Self::Week } else { self }
    }

    /// What suits a period of `days`: at most about 30 points.
    pub fn for_days(days: i64) -> Self {
        match days {
            ..=31 => Self::Day,
            32..=180 => Self::Week,
            _ => Self::Month,
        }
    }

    /// The starts of the slots covering `[from, to)`: hours, UTC days, weeks from the first day,
    /// or calendar months.
    pub fn slot_starts(self, from: i64, to: i64) -> Vec<i64> {
        let mut at = match self {
            Self::Hour => super::hour_of(from),
            Self::Day | Self::Week => day_of(from),
            Self::Month => month_of(from),
        };
        let mut starts = Vec::new();
        loop {
            starts.push(at);
            at = match self {
                Self::Hour => at + super::HOUR_MS,
                Self::Day => at + DAY_MS,
                Self::Week => at + 7 * DAY_MS,
                Self::Month => next_month(at),
            };
            if at >= to {
                return starts;
            }
        }
    }
}

/// Midnight (UTC) of the first day of the month `at` falls in.
pub fn month_of(at: i64) -> i64 {
    let date = time::OffsetDateTime::from_unix_timestamp(at.div_euclid(1000)).map(|t| t.date());
    match date.and_then(|d| d.replace_day(1)) {
        Ok(first) => first.midnight().assume_utc().unix_timestamp() * 1000,
        Err(_) => day_of(at),
    }
}

/// Midnight (UTC) of the first day of the month after the one `at` falls in.
pub fn next_month(at: i64) -> i64 {
    month_of(at + 32 * DAY_MS)
}

/// Midnight (UTC) of the first of January of `year`.
pub fn year_start(year: i32) -> i64 {
    time::Date::from_calendar_date(year, time::Month::January, 1)
        .map_or(0, |first| first.midnight().assume_utc().unix_timestamp() * 1000)
}

/// The year (UTC) `at` falls in.
pub fn year_of(at: i64) -> i32 {
    time::OffsetDateTime::from_unix_timestamp(at.div_euclid(1000)).map_or(1970, |t| t.year())
}

/// Daily counters of every brand: (day, brand, dimension, value, sum).
pub type DailyRow = (i64, String, String, String, i64);

/// The brand's and the other brands' tallies per slot (`starts` from `Grain::slot_starts`).
#[derive(Debug, Default)]
pub struct Tallies {
    pub own: Vec<Tally>,
    /// Per slot, one tally per other brand (unnamed).
    pub others: Vec<Vec<Tally>>,
}

pub fn tally(rows: &[DailyRow], own: &str, starts: &[i64], rates: &ExchangeRates) -> Tallies {
    let mut per_brand: BTreeMap<(&str, usize), Tally> = BTreeMap::new();
    for (day, brand, dimension, value, n) in rows {
        let Some(slot) = starts.partition_point(|s| s <= day).checked_sub(1) else { continue };
        per_brand.entry((brand.as_str(), slot)).or_default().count(dimension, value, *n, rates);
    }
    let mut tallies = Tallies { own: vec![Tally::default(); starts.len()], others: vec![Vec::new(); starts.len()] };
    for ((brand, slot), tally) in per_brand {
        if brand == own {
            if let Some(in_slot) = tallies.own.get_mut(slot) {
                *in_slot = tally;
            }
        } else if let Some(in_slot) = tallies.others.get_mut(slot) {
            in_slot.push(tally);
        }
    }
    tallies
}

/// One year of a published series beside the brand's own figure that year.
#[derive(Debug, Clone, PartialEq)]
pub struct YearOnYear {
    pub year: i32,
    pub published: Option<f64>,
    /// The published value against the series' first year, = 100.
    pub published_index: Option<f64>,
    /// Change against the year before, in per cent.
    pub published_change: Option<f64>,
    pub brand: Option<f64>,
    pub brand_index: Option<f64>,
    pub brand_change: Option<f64>,
}

/// A published series as indices and changes year on year, beside the brand's yearly figures
/// (`brand_years`: year → figure). Periods that are not a plain year are left out.
pub fn year_on_year(series: &[&Reference], brand_years: &BTreeMap<i32, f64>) -> Vec<YearOnYear> {
    let published: BTreeMap<i32, f64> =
        series.iter().filter_map(|r| Some((r.period.parse::<i32>().ok()?, r.value.parse::<f64>().ok()?))).collect();
    // Every year from the first to the last, so that the years lie evenly on the axis.
    let known = published.keys().chain(brand_years.keys());
    let years = match (known.clone().min(), known.max()) {
        (Some(first), Some(last)) => *first..=*last,
        _ => return Vec::new(),
    };
    let index = |values: &BTreeMap<i32, f64>, year: i32| {
        let (_, first) = values.iter().next()?;
        Some(values.get(&year)? / first * 100.0).filter(|_| *first != 0.0)
    };
    let change =
        |values: &BTreeMap<i32, f64>, year: i32| change(values.get(&(year - 1)).copied(), values.get(&year).copied());
    years
        .into_iter()
        .map(|year| YearOnYear {
            year,
            published: published.get(&year).copied(),
            published_index: index(&published, year),
            published_change: change(&published, year),
            brand: brand_years.get(&year).copied(),
            brand_index: index(brand_years, year),
            brand_change: change(brand_years, year),
        })
        .collect()
}

/// Reads published market figures: the header `period,metric,value,source` or
/// `period,metric,value,compare_with,source`, then one figure per line; the source is the rest of
/// the line (it may hold commas), `compare_with` names the brand figure the series is set beside
/// (`MarketMetric`) or is empty. Every line is checked before anything is stored, and a bad one is
/// named by its number.
pub fn parse_market_csv(text: &str) -> Result<Vec<Reference>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let mapped = match lines.next().map(|(_, header)| header.trim().trim_start_matches('\u{feff}')) {
        Some("period,metric,value,source") => false,
        Some("period,metric,value,compare_with,source") => true,
        _ => {
            return Err(
                "line 1: the header must be `period,metric,value,compare_with,source` (or without compare_with)".into(),
            );
        }
    };
    let fields_before_source = if mapped { 4 } else { 3 };
    lines
        .map(|(index, line)| {
            let n = index + 1;
            let fields: Vec<&str> = line.splitn(fields_before_source + 1, ',').map(str::trim).collect();
            let [period, metric, value, rest @ ..] = fields.as_slice() else {
                return Err(format!("line {n}: needs the fields period, metric, value, … and source"));
            };
            let (compare_with, source) = match (mapped, rest) {
                (false, [source]) => ("", *source),
                (true, [compare_with, source]) => (*compare_with, *source),
                _ => return Err(format!("line {n}: needs {} fields", fields_before_source + 1)),
            };
            if period.is_empty() || period.len() > 16 {
                return Err(format!("line {n}: the period must be 1 to 16 characters, like 2023 or 2023-Q4"));
            }
            if period.parse::<i32>().is_ok_and(|year| !(1900..=2100).contains(&year)) {
                return Err(format!("line {n}: the year `{period}` is not one of 1900 to 2100"));
            }
            if metric.is_empty()
                || metric.len() > 80
                || !metric.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(format!("line {n}: the metric `{metric}` must be lower-case letters, digits and _"));
            }
            if !value.parse::<f64>().is_ok_and(f64::is_finite) {
                return Err(format!("line {n}: the value `{value}` is not a number"));
            }
            let compare_with = match compare_with {
                "" => None,
                name => Some(MarketMetric::parse(name).ok_or_else(|| {
                    let known: Vec<&str> = MarketMetric::ALL.iter().map(|m| m.as_str()).collect();
                    format!("line {n}: compare_with `{name}` is none of {}", known.join(", "))
                })?),
            };
            if source.is_empty() || source.len() > 200 {
                return Err(format!("line {n}: name the source (1 to 200 characters)"));
            }
            Ok(Reference {
                period: (*period).to_owned(),
                metric: (*metric).to_owned(),
                value: (*value).to_owned(),
                compare_with,
                source: source.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates() -> ExchangeRates {
        ExchangeRates::parse("EUR", [("GBP", 1.2)]).unwrap()
    }

    fn tally_of(counters: &[(&str, &str, i64)]) -> Tally {
        let mut tally = Tally::default();
        counters.iter().for_each(|(d, v, n)| tally.count(d, v, *n, &rates()));
        tally
    }

    #[test]
    fn figures_are_rates_of_the_counters() {
        let t = tally_of(&[
            ("outcome", "completed", 990),
            ("outcome", "fraud_confirmed", 10),
            ("loss", "GBP", 50_000),
            ("event", "verification.created", 2000),
            ("event", "verification.blocked", 30),
            ("event", "verification.held", 10),
            ("network_check", "sim_swap|swapped", 4),
            ("network_check", "sim_swap|not_swapped", 400),
            ("lockout", "number", 2),
            ("limit_refusal", "create|range_burst", 6),
            ("limit_refusal", "check|wrong_code_lock_customer", 9),
        ]);
        assert_eq!(t.figure(MarketMetric::ConfirmedFraud), Some(10.0));
        assert_eq!(t.figure(MarketMetric::Losses), Some(600.0), "500 GBP are 600 EUR, per 1,000 orders");
        assert_eq!(t.figure(MarketMetric::BlockedOrHeld), Some(2.0));
        assert_eq!(t.figure(MarketMetric::SimSwaps), Some(2.0));
        assert_eq!(t.figure(MarketMetric::DeviceSwaps), Some(0.0));
        assert_eq!(t.figure(MarketMetric::Lockouts), Some(1.0));
        assert_eq!(t.figure(MarketMetric::PumpingBlocks), Some(3.0), "lock refusals are not pumping");
        assert_eq!(Tally::default().figure(MarketMetric::ConfirmedFraud), None);
        for event in EVENTS {
            assert_ne!(tally_of(&[("event", event, 1)]), Tally::default(), "{event} is read");
        }
        assert_eq!(tally_of(&[("event", "verification.approved", 1)]), Tally::default());
        let unconvertible = tally_of(&[("outcome", "completed", 1), ("loss", "NOK", 100)]);
        assert_eq!(unconvertible.figure(MarketMetric::Losses), None);
    }

    #[test]
    fn the_others_count_only_where_three_contribute() {
        let orders =
            |fraud: i64| tally_of(&[("outcome", "completed", 100 - fraud), ("outcome", "fraud_confirmed", fraud)]);
        let two = [orders(1), orders(3), Tally::default()];
        assert_eq!(others_figure(&two, MarketMetric::ConfirmedFraud), None, "a brand without orders does not count");
        let three = [orders(1), orders(3), orders(5)];
        assert_eq!(others_figure(&three, MarketMetric::ConfirmedFraud), Some(30.0));
        let big = tally_of(&[("outcome", "completed", 1000)]);
        let dominated = [orders(1), orders(3), big];
        assert_eq!(others_figure(&dominated, MarketMetric::ConfirmedFraud), None, "mostly one brand's own figure");
        assert_eq!(others_figure(&three, MarketMetric::SimSwaps), None, "no verifications to divide by");
    }

    #[test]
    fn the_brand_is_set_against_the_market_in_words() {
        assert_eq!(change(Some(10.0), Some(12.0)).map(f64::round), Some(20.0));
        assert_eq!(change(Some(0.0), Some(12.0)), None);
        assert_eq!(against_market(Some(20.0), Some(5.0)), "rising faster than the market");
        assert_eq!(against_market(Some(-2.0), Some(-20.0)), "falling slower than the market");
        assert_eq!(against_market(Some(-30.0), Some(-5.0)), "falling faster than the market");
        assert_eq!(against_market(Some(3.0), Some(10.0)), "rising slower than the market");
        assert_eq!(against_market(Some(3.0), Some(3.5)), "in step with the market");
        assert_eq!(against_market(Some(3.0), None), "no comparison yet");
    }

    #[test]
    fn slots_are_days_weeks_or_calendar_months() {
        let day = |d: i64| d * DAY_MS;
        assert_eq!(Grain::Day.slot_starts(day(1) + 5, day(3) + 1), [day(1), day(2), day(3)]);
        assert_eq!(Grain::Week.slot_starts(day(0), day(15)), [day(0), day(7), day(14)]);
        // 2026-01-20 to 2026-03-05: January, February, March.
        let (jan20, mar5) = (1_768_867_200_000, 1_772_668_800_000);
        let months: Vec<String> = Grain::Month.slot_starts(jan20, mar5).into_iter().map(crate::clock::day).collect();
        assert_eq!(months, ["2026-01-01", "2026-02-01", "2026-03-01"]);
        assert_eq!((year_of(jan20), crate::clock::day(year_start(2026))), (2026, "2026-01-01".to_owned()));
        assert_eq!(
            (Grain::for_days(7), Grain::for_days(90), Grain::for_days(365)),
            (Grain::Day, Grain::Week, Grain::Month)
        );
        assert_eq!(Grain::parse("week").map(Grain::as_str), Some("week"));
        assert_eq!(Grain::Hour.slot_starts(DAY_MS + 5, DAY_MS + 3 * super::super::HOUR_MS).len(), 3);
        assert_eq!(
            (Grain::for_days_by_hour(2), Grain::for_days_by_hour(7), Grain::for_days_by_hour(365)),
            (Grain::Hour, Grain::Day, Grain::Week)
        );
    }

    #[test]
    fn rows_fall_in_their_slot_and_brand() {
        let row = |day: i64, brand: &str, n: i64| {
            (day * DAY_MS, brand.to_owned(), "outcome".to_owned(), "completed".to_owned(), n)
        };
        let rows = [row(0, "own", 1), row(1, "own", 2), row(1, "a", 5), row(1, "b", 7), row(9, "own", 100)];
        let tallies = tally(&rows, "own", &[0, DAY_MS], &rates());
        assert_eq!((tallies.own[0].orders, tallies.own[1].orders), (1, 102));
        assert_eq!(tallies.others[1].iter().map(|t| t.orders).collect::<Vec<_>>(), [5, 7]);
    }

    #[test]
    fn published_series_are_set_year_on_year_beside_the_brand() {
        let reference = |period: &str, value: &str| Reference {
            period: period.into(),
            metric: "uk_sim_swaps".into(),
            value: value.into(),
            compare_with: Some(MarketMetric::SimSwaps),
            source: "Cifas".into(),
        };
        let (a, b) = (reference("2023", "289"), reference("2024", "3000"));
        let brand: BTreeMap<i32, f64> = [(2024, 2.0), (2025, 3.0)].into_iter().collect();
        let years = year_on_year(&[&a, &b], &brand);
        assert_eq!(years.iter().map(|y| y.year).collect::<Vec<_>>(), [2023, 2024, 2025]);
        let gap = year_on_year(&[&reference("2021", "1")], &brand);
        assert_eq!(gap.iter().map(|y| y.year).collect::<Vec<_>>(), [2021, 2022, 2023, 2024, 2025], "evenly spaced");
        assert!(year_on_year(&[], &BTreeMap::new()).is_empty());
        let round = |v: Option<f64>| v.map(|v| v.round());
        assert_eq!((round(years[1].published_index), round(years[1].published_change)), (Some(1038.0), Some(938.0)));
        assert_eq!((years[0].brand, years[2].brand_index, years[2].brand_change), (None, Some(150.0), Some(50.0)));
        assert_eq!(years[0].published_change, None, "no year before the first");
    }

    #[test]
    fn reads_the_published_file_and_names_bad_lines() {
        let good = "period,metric,value,source\n2023,global_loss_usd_bn,38.95,CFCA Survey 2023, p. 4\n";
        let rows = parse_market_csv(good).unwrap();
        assert_eq!((rows[0].value.as_str(), rows[0].source.as_str()), ("38.95", "CFCA Survey 2023, p. 4"));
        assert_eq!(rows[0].compare_with, None);
        let mapped =
            "period,metric,value,compare_with,source\n2024,uk_sim_swaps,3000,sim_swaps,Cifas, 2025\n2024,x,1,,S\n";
        let rows = parse_market_csv(mapped).unwrap();
        assert_eq!((rows[0].compare_with, rows[0].source.as_str()), (Some(MarketMetric::SimSwaps), "Cifas, 2025"));
        assert_eq!(rows[1].compare_with, None);
        assert!(parse_market_csv("a,b\n").unwrap_err().contains("header"));
        let bad = "period,metric,value,source\n2023,x,1,S\n2024,x,lots,S\n";
        assert_eq!(parse_market_csv(bad).unwrap_err(), "line 3: the value `lots` is not a number");
        assert!(parse_market_csv("period,metric,value,source\n2023,Bad Metric,1,S\n").unwrap_err().contains("line 2"));
        let unknown = "period,metric,value,compare_with,source\n2024,x,1,fraud,S\n";
        assert!(parse_market_csv(unknown).unwrap_err().starts_with("line 2: compare_with `fraud` is none of"));
        let typo = "period,metric,value,source\n20244,x,1,S\n";
        assert_eq!(parse_market_csv(typo).unwrap_err(), "line 2: the year `20244` is not one of 1900 to 2100");
    }
}
