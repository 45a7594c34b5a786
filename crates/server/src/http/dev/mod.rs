//! Development-only routes, served only when the configuration enables them: the demo shops
//! (`dev.demo_shop`), the SMS outbox (`dev.outbox_page`) and the movable clock
//! (`dev.simulated_clock`), a telco gateway for the SIM swap checks (`dev.network_api`) and a
//! webhook receiver (`dev.webhook_receiver`). Never enable them in production.

pub mod clock;
pub mod demo_shop;
pub mod network;
pub mod outbox;
pub mod webhooks;
