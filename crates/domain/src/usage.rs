//! What an agent spent: tokens in and out and money. Agents report it as deltas (each report
//! adds to the job's total), so an agent that makes ten model calls prints ten lines and never
//! has to keep a sum; a retried job's attempts add up too, since each attempt's spend is real.
//!
//! Money is kept in whole micro-dollars: sums of many small floating-point costs drift, sums
//! of integers do not, and a millionth of a dollar is finer than any model is priced.

use serde::{Deserialize, Serialize};

/// Micro-dollars in one dollar.
pub const MICROS_PER_USD: f64 = 1_000_000.0;

/// Tokens and cost, as one report's delta or as a sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micro_usd: u64,
}

impl Usage {
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// Adds `other`, saturating rather than wrapping on absurd reports.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cost_micro_usd = self.cost_micro_usd.saturating_add(other.cost_micro_usd);
    }

    pub fn cost_usd(&self) -> f64 {
        micros_to_usd(self.cost_micro_usd)
    }

    /// One report as an agent prints it (`{"inputTokens": n, "outputTokens": n, "costUsd":
    /// x}`, every field optional). Negative, fractional token counts and non-finite costs are
    /// refused: an agent cannot make its job's spend go down.
    pub fn from_report(report: &serde_json::Value) -> Option<Self> {
        let report: Report = serde_json::from_value(report.clone()).ok()?;
        let tokens = |n: Option<f64>| match n {
            None => Some(0),
            Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= 1e15 => Some(n as u64),
            Some(_) => None,
        };
        Some(Self {
            input_tokens: tokens(report.input_tokens)?,
            output_tokens: tokens(report.output_tokens)?,
            cost_micro_usd: usd_to_micros(report.cost_usd.unwrap_or(0.0))?,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    input_tokens: Option<f64>,
    output_tokens: Option<f64>,
    cost_usd: Option<f64>,
}

/// Dollars as whole micro-dollars, rounded; `None` for negative, non-finite or absurd sums.
pub fn usd_to_micros(usd: f64) -> Option<u64> {
    (usd.is_finite() && (0.0..=1e9).contains(&usd)).then(|| (usd * MICROS_PER_USD).round() as u64)
}

pub fn micros_to_usd(micros: u64) -> f64 {
    micros as f64 / MICROS_PER_USD
}

/// The sum as clients see it (the job's answer, its events, a project's usage).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

impl From<Usage> for UsageView {
    fn from(usage: Usage) -> Self {
        Self {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost_usd: usage.cost_usd(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_report_adds_tokens_and_whole_micro_dollars() {
        let mut total = Usage::default();
        for _ in 0..10 {
            let report = json!({"inputTokens": 120, "outputTokens": 30, "costUsd": 0.0001});
            total.add(Usage::from_report(&report).expect("valid"));
        }
        assert_eq!(total.input_tokens, 1200);
        assert_eq!(total.output_tokens, 300);
        assert_eq!(
            total.cost_micro_usd, 1000,
            "no drift: ten 0.0001 make 0.001"
        );
        assert!((total.cost_usd() - 0.001).abs() < 1e-12);
        let partial = Usage::from_report(&json!({"costUsd": 2})).expect("fields are optional");
        assert_eq!(partial.cost_micro_usd, 2_000_000);
    }

    #[test]
    fn reports_that_would_lower_or_break_a_sum_are_refused() {
        for bad in [
            json!({"inputTokens": -1}),
            json!({"outputTokens": 1.5}),
            json!({"costUsd": -0.1}),
            json!({"costUsd": 1e300}),
            json!({"inputTokens": "12"}),
            json!([1, 2]),
        ] {
            assert_eq!(Usage::from_report(&bad), None, "{bad}");
        }
        let mut huge = Usage {
            input_tokens: u64::MAX,
            ..Usage::default()
        };
        huge.add(Usage {
            input_tokens: 5,
            ..Usage::default()
        });
        assert_eq!(huge.input_tokens, u64::MAX);
    }
}
