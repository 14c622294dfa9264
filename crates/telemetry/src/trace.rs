//! OpenTelemetry traces, exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set
//! (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json` for JSON, else protobuf), and W3C trace context
//! (`traceparent`) carried across processes: from an HTTP request into the job it queues and on
//! to the worker that runs it, so one trace shows a job from request to completion.

use std::collections::HashMap;

use opentelemetry::global;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Flushes the spans still buffered when dropped (at the end of `main`).
#[derive(Debug)]
pub struct TraceGuard(Option<SdkTracerProvider>);

impl Drop for TraceGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("flushing traces failed: {err}");
        }
    }
}

/// The OTLP tracer provider for `service`, when an endpoint is configured.
pub(crate) fn provider(service: &str) -> Option<SdkTracerProvider> {
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())?;
    let protocol = match std::env::var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        Ok("http/json") => Protocol::HttpJson,
        _ => Protocol::HttpBinary,
    };
    let exporter = match SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
    {
        Ok(exporter) => exporter,
        Err(err) => {
            eprintln!("no trace export: {err}");
            return None;
        }
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    global::set_tracer_provider(provider.clone());
    Some(provider)
}

pub(crate) fn guard(provider: Option<SdkTracerProvider>) -> TraceGuard {
    TraceGuard(provider)
}

pub(crate) fn layer<S>(
    provider: &SdkTracerProvider,
    service: &str,
) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer(service.to_owned()))
}

/// The W3C `traceparent` of `span`, to carry to another process; `None` when not tracing.
pub fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the trace in `traceparent` (from a request header or a job).
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    let _ = span.set_parent(parent);
}
