//! What `orderguard simulate` drives and how: the instance (`Target`, as the demo writes it) and
//! the size of the simulated history (`Options`).

use serde::Deserialize;

/// The instance to drive: what `orderguard demo` writes to `demo-credentials.json`.
#[derive(Debug, Deserialize)]
pub struct Target {
    pub base_url: String,
    pub brands: Vec<TargetBrand>,
    pub customers: Vec<TargetCustomer>,
    /// Where delivery reports go; without it no SMS counts as delivered.
    pub sms_status: Option<SmsStatus>,
}

#[derive(Debug, Deserialize)]
pub struct TargetBrand {
    pub slug: String,
    pub api_key: String,
    /// ISO 4217 of the brand's shop.
    pub currency: String,
    /// `YYYY-MM-DD`: orders before it are placed without 2FA (only their outcomes are reported).
    pub two_factor_since: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TargetCustomer {
    pub id: String,
    pub brand: String,
    /// The customer's number, if known: SMS per number are counted by it.
    #[serde(default)]
    pub phone: Option<String>,
    /// A premium-rate number SMS pumpers send to.
    #[serde(default)]
    pub pumping: bool,
    /// An account with a mobile number in a range pumpers spread a burst over; never used honestly.
    #[serde(default)]
    pub range_pumping: bool,
    /// The number's SIM is in a fraudster's hands (the demo's gateway says it was swapped lately):
    /// only SIM swappers order for this customer.
    #[serde(default)]
    pub sim_swapped: bool,
}

#[derive(Debug, Deserialize)]
pub struct SmsStatus {
    pub provider: String,
    pub token: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Days of history, ending two hours ago.
    #[arg(long, default_value_t = Options::default().days)]
    pub days: i64,
    /// Orders per brand and day.
    #[arg(long, default_value_t = Options::default().orders_per_day)]
    pub orders_per_day: u64,
    #[arg(long, default_value_t = Options::default().seed)]
    pub seed: u64,
    /// Requests in flight at once.
    #[arg(long, default_value_t = Options::default().concurrency)]
    pub concurrency: usize,
    /// Without the daily attack campaigns and pumping bursts: the customers' own traffic (with
    /// the odd fraudster among them) and the alert rules' incidents, to see how quiet the alert
    /// rules stay between incidents.
    #[arg(long)]
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { days: 28, orders_per_day: 40, seed: 1, concurrency: 16, quiet: false }
    }
}
