//! The order a customer confirms: what the code and the receipt are bound to.

use sha2::{Digest, Sha256};

use crate::FieldError;
use crate::money::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    pub sku: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: Money,
    pub hardware: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub amount: Money,
    pub items: Vec<OrderItem>,
    /// ISO 3166-1 alpha-2, upper case.
    pub shipping_country: Option<String>,
}

/// The order as it arrives, before its rules are checked.
#[derive(Debug, Clone, Default)]
pub struct OrderInput<'a> {
    pub id: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub items: Vec<ItemInput<'a>>,
    pub shipping_country: Option<&'a str>,
}

#[derive(Debug, Clone, Default)]
pub struct ItemInput<'a> {
    pub sku: &'a str,
    pub name: &'a str,
    pub quantity: u32,
    pub unit_price: &'a str,
    pub hardware: bool,
}

pub const MAX_ITEMS: usize = 100;

/// Text the customer may be shown: no control characters, and no bidirectional formatting that
/// could make it read differently from what it is (an item name that turns "0.01" into "10.0").
fn text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    if value.trim().is_empty()
        || value.chars().count() > max
        || value.chars().any(|c| c.is_control() || is_bidi_control(c))
    {
        return Err(FieldError::new(
            field,
            format!("must be 1 to {max} characters without control or bidirectional formatting characters"),
        ));
    }
    Ok(value.to_owned())
}

/// The Unicode bidirectional formatting characters (marks, embeddings, overrides, isolates).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

pub fn parse_country(field: &str, value: &str) -> Result<String, FieldError> {
    if value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value.to_owned())
    } else {
        Err(FieldError::new(field, "must be an ISO 3166-1 alpha-2 country code in capitals such as DE"))
    }
}

impl Order {
    pub fn parse(input: &OrderInput<'_>) -> Result<Self, FieldError> {
        let id = text("id", input.id, 128)?;
        let currency = Currency::parse_iso(input.currency)?;
        let amount = Money::parse(input.amount, currency)?;
        if input.items.len() > MAX_ITEMS {
            return Err(FieldError::new("items", format!("at most {MAX_ITEMS} items")));
        }
        let items = input
            .items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let at = |e: FieldError| e.within(&format!("items[{index}]"));
                if item.quantity == 0 || item.quantity > 10_000 {
                    return Err(at(FieldError::new("quantity", "must be between 1 and 10000")));
                }
                Ok(OrderItem {
                    sku: text("sku", item.sku, 64).map_err(at)?,
                    name: text("name", item.name, 200).map_err(at)?,
                    quantity: item.quantity,
                    unit_price: Money::parse(item.unit_price, currency)
                        .map_err(|e| at(FieldError::new("unit_price", e.reason)))?,
                    hardware: item.hardware,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let shipping_country = input.shipping_country.map(|c| parse_country("shipping_country", c)).transpose()?;
        Ok(Self { id, amount, items, shipping_country })
    }

    pub fn has_hardware(&self) -> bool {
        self.items.iter().any(|i| i.hardware)
    }

    /// SHA-256 over the canonical form of the order, hex encoded. The canonical form is one line per
    /// field, `\n`-terminated: order id, amount, currency, shipping country (empty if none), then per
    /// item `sku \t quantity \t unit_price \t hardware(0|1)` in the order given. docs/api.md shows how
    /// a shop recomputes it to check the receipt.
    pub fn digest(&self) -> String {
        let mut canonical = format!(
            "{}\n{}\n{}\n{}\n",
            self.id,
            self.amount.to_decimal(),
            self.amount.currency.code(),
            self.shipping_country.as_deref().unwrap_or("")
        );
        for item in &self.items {
            canonical.push_str(&format!(
                "{}\t{}\t{}\t{}\n",
                item.sku,
                item.quantity,
                item.unit_price.to_decimal(),
                u8::from(item.hardware)
            ));
        }
        hex(&Sha256::digest(canonical.as_bytes()))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What finally became of an order, as the shop reports it: the labels fraud trends are
/// computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderOutcome {
    Completed,
    Canceled,
    FraudConfirmed,
    Chargeback,
    HardwareDamaged,
}

impl OrderOutcome {
    pub const ALL: [OrderOutcome; 5] =
        [Self::Completed, Self::Canceled, Self::FraudConfirmed, Self::Chargeback, Self::HardwareDamaged];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Canceled => "canceled",
            Self::FraudConfirmed => "fraud_confirmed",
            Self::Chargeback => "chargeback",
            Self::HardwareDamaged => "hardware_damaged",
        }
    }

    pub fn parse(value: &str) -> Result<Self, FieldError> {
        Self::ALL.into_iter().find(|o| o.as_str() == value).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|o| o.as_str()).collect();
            FieldError::new("outcome", format!("must be one of {}", names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> OrderInput<'static> {
        OrderInput {
            id: "A-1",
            amount: "849.00",
            currency: "EUR",
            items: vec![ItemInput { sku: "PHN", name: "Phone", quantity: 1, unit_price: "849.00", hardware: true }],
            shipping_country: Some("DE"),
        }
    }

    #[test]
    fn digest_changes_with_the_amount() {
        let a = Order::parse(&input()).unwrap();
        let mut changed = input();
        changed.amount = "1.00";
        let b = Order::parse(&changed).unwrap();
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest().len(), 64);
    }

    #[test]
    fn names_the_failing_field() {
        let mut bad = input();
        bad.items[0].quantity = 0;
        assert_eq!(Order::parse(&bad).unwrap_err().field, "items[0].quantity");
        let mut bad = input();
        bad.shipping_country = Some("Germany");
        assert_eq!(Order::parse(&bad).unwrap_err().field, "shipping_country");
    }
}
