//! Published market reference figures.

#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub period: String,
    pub metric: String,
    /// As published, e.g. `2.22`.
    pub value: String,
    pub source: String,
}
