//! Properties of the parsers that read what comes from outside — amounts, currencies, orders,
//! phone numbers, codes — over many generated inputs: none panics, and what one accepts reads
//! back the same. 5,000 cases each by default (well under a second);
//! `ORDERGUARD_PROPERTY_CASES=1000000 cargo test -p orderguard-domain properties` runs longer. The
//! cargo-fuzz targets in fuzz/ cover the SMPP parsers.

use crate::code::OtpCode;
use crate::money::{Currency, Money};
use crate::order::{ItemInput, Order, OrderInput, is_bidi_control};
use crate::phone::E164;
use crate::testing::{Gen, cases};

const CURRENCIES: &[&str] = &["EUR", "JPY", "KWD", "GBP", "CLP", "BHD"];

#[test]
fn amounts_never_panic_and_what_is_read_reads_back_the_same() {
    let mut g = Gen::new(1);
    let mut read = 0;
    for _ in 0..cases() {
        let currency = Currency::parse(g.pick(CURRENCIES)).unwrap();
        let text = g.text(24);
        if let Ok(money) = Money::parse(&text, currency) {
            read += 1;
            assert_eq!(Money::parse(&money.to_decimal(), currency), Ok(money), "{text:?}");
        }
        let minor = i64::try_from(g.below(2_000_000_000_000)).unwrap_or(0);
        let money = Money::from_minor(minor, currency);
        assert_eq!(Money::parse(&money.to_decimal(), currency), Ok(money), "{minor} {}", currency.code());
    }
    assert!(read * 100 > cases(), "only {read} amounts were read: the property saw too few");
}

#[test]
fn currencies_in_circulation_are_three_capitals_that_read_back() {
    let mut g = Gen::new(2);
    for _ in 0..cases() {
        let code: String = (0..g.below(5)).map(|_| char::from(b'A' + u8::try_from(g.below(27)).unwrap_or(0))).collect();
        if let Ok(currency) = Currency::parse_iso(&code) {
            assert_eq!(currency.code(), code);
            assert_eq!(Currency::parse(&code), Ok(currency));
        }
    }
}

#[test]
fn numbers_never_panic_and_what_is_read_reads_back_the_same() {
    let mut g = Gen::new(3);
    let mut read = 0;
    for _ in 0..cases() {
        let digits: String = (0..8).map(|_| char::from(b'0' + u8::try_from(g.below(10)).unwrap_or(0))).collect();
        let text = match g.below(4) {
            0 => format!("+{}", g.text(16)),
            1 => format!("0{}", g.text(14)),
            // Mostly valid: a German mobile number, written in one of the ways people write it.
            2 => g.pick(&["+49 151 ", "0151", "+49151", "0049 151 "]).to_owned() + &digits,
            _ => g.text(20),
        };
        let region = g.pick(&[None, Some("DE"), Some("GB"), Some("XX")]);
        if let Ok(number) = E164::parse(&text, region) {
            read += 1;
            let again = E164::parse(number.as_str(), None).unwrap_or_else(|e| panic!("{text:?} → {e}"));
            assert!(again == number, "{text:?} does not read back");
            assert!(number.hint().chars().filter(char::is_ascii_digit).count() < number.as_str().len() - 1);
        }
    }
    assert!(read * 10 > cases(), "only {read} numbers were read: the property saw too few");
}

#[test]
fn codes_are_six_to_eight_digits_and_read_back() {
    let mut g = Gen::new(4);
    let mut read = 0;
    for _ in 0..cases() {
        let text = if g.below(2) == 0 {
            g.text(10)
        } else {
            // Digits as typed: five to nine, perhaps with a space around them.
            let digits: String =
                (0..5 + g.below(5)).map(|_| char::from(b'0' + u8::try_from(g.below(10)).unwrap_or(0))).collect();
            format!("{}{digits}{}", g.pick(&["", " "]), g.pick(&["", " ", "\n"]))
        };
        if let Ok(code) = OtpCode::parse(&text) {
            read += 1;
            assert!((6..=8).contains(&code.as_str().len()) && code.as_str().bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(OtpCode::parse(code.as_str()), Ok(code));
        }
    }
    assert!(read * 10 > cases(), "only {read} codes were read: the property saw too few");
}

#[test]
fn orders_never_panic_and_never_carry_bidirectional_formatting() {
    let mut g = Gen::new(5);
    for _ in 0..cases() {
        let (id, amount, name, price) = (g.text(12), g.text(8), g.text(12), g.text(8));
        let currency = g.pick(&["EUR", "ABC", "eur", "JPY"]);
        let quantity = u32::try_from(g.below(4)).unwrap_or(0);
        let items = vec![ItemInput { sku: "S", name: &name, quantity, unit_price: &price, hardware: false }];
        let input = OrderInput { id: &id, amount: &amount, currency, items, shipping_country: Some("DE") };
        if let Ok(order) = Order::parse(&input) {
            assert!(!order.id.chars().any(is_bidi_control), "{id:?}");
            assert!(order.items.iter().all(|i| !i.name.chars().any(is_bidi_control)), "{name:?}");
            assert_eq!(order.amount.currency.code(), currency);
        }
    }
}
