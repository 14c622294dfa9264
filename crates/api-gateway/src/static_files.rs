//! The dashboard (`/`, its files under `/ui/`) and the API docs (`/docs`, Swagger UI under
//! `/docs/`): static files embedded in the binary, so they work offline and cannot drift from
//! the API they call. Served with an ETag (`no-cache`: the browser asks again, and gets a 304
//! while nothing changed) and a strict Content-Security-Policy: scripts and styles from this
//! origin only, no inline script, nothing framed.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use agentq_api_types::ErrorBody;

use crate::settings::EventsUrl;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($dir:literal, $name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $dir, "/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

const DASHBOARD: &[Asset] = &[
    asset!("dashboard", "app.css", CSS),
    asset!("dashboard", "app.js", JS),
    asset!("dashboard", "api.js", JS),
    asset!("dashboard", "dom.js", JS),
    asset!("dashboard", "live.js", JS),
    asset!("dashboard", "overview.js", JS),
    asset!("dashboard", "jobs.js", JS),
    asset!("dashboard", "job.js", JS),
    asset!("dashboard", "submit.js", JS),
    asset!("dashboard", "admin.js", JS),
    asset!("dashboard", "favicon.svg", "image/svg+xml"),
];

const DOCS: &[Asset] = &[
    asset!("docs-ui", "docs.js", JS),
    asset!("docs-ui", "swagger-ui-bundle.js", JS),
    asset!("docs-ui", "swagger-ui.css", CSS),
];

const INDEX: &str = include_str!("../dashboard/index.html");
const DOCS_PAGE: &[u8] = include_bytes!("../docs-ui/docs.html");

/// The marker in `index.html` that becomes the events URL.
const EVENTS_URL_MARKER: &str = "{{EVENTS_URL}}";

/// One file ready to serve: its body, type, ETag and policy.
#[derive(Debug)]
struct Served {
    body: web::Bytes,
    content_type: &'static str,
    etag: String,
    policy: Arc<str>,
}

impl Served {
    fn new(body: web::Bytes, content_type: &'static str, policy: &Arc<str>) -> Self {
        let mut hasher = DefaultHasher::new();
        body.hash(&mut hasher);
        Self {
            body,
            content_type,
            etag: format!("\"{:016x}\"", hasher.finish()),
            policy: policy.clone(),
        }
    }

    fn reply(&self, req: &HttpRequest) -> HttpResponse {
        let unchanged = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == self.etag));
        let mut reply = if unchanged {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        reply
            .insert_header((header::ETAG, self.etag.as_str()))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::CONTENT_SECURITY_POLICY, &*self.policy))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"));
        if unchanged {
            return reply.finish();
        }
        reply
            .insert_header((header::CONTENT_TYPE, self.content_type))
            .body(self.body.clone())
    }
}

/// Everything served here, built once at start.
#[derive(Debug)]
pub struct Site {
    index: Served,
    dashboard: Vec<(&'static str, Served)>,
    docs_page: Served,
    docs: Vec<(&'static str, Served)>,
}

/// The files, with `events` (where the dashboard's live updates come from, if anywhere) in
/// the dashboard's page and policy.
pub fn site(events: Option<&EventsUrl>) -> web::Data<Site> {
    let dashboard_policy: Arc<str> = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        events.map(|e| format!(" {}", e.origin)).unwrap_or_default(),
    )
    .into();
    // Swagger UI sets inline styles on its elements, so its page allows them (and nothing
    // else inline)
    let docs_policy: Arc<str> = "default-src 'none'; script-src 'self'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        .into();
    let index = INDEX.replace(
        EVENTS_URL_MARKER,
        events.map(|e| e.url.as_str()).unwrap_or_default(),
    );
    let embedded = |assets: &[Asset], policy: &Arc<str>| -> Vec<(&'static str, Served)> {
        assets
            .iter()
            .map(|a| {
                let body = web::Bytes::from_static(a.body);
                (a.name, Served::new(body, a.content_type, policy))
            })
            .collect()
    };
    web::Data::new(Site {
        index: Served::new(index.into(), HTML, &dashboard_policy),
        dashboard: embedded(DASHBOARD, &dashboard_policy),
        docs_page: Served::new(web::Bytes::from_static(DOCS_PAGE), HTML, &docs_policy),
        docs: embedded(DOCS, &docs_policy),
    })
}

pub fn configure(cfg: &mut web::ServiceConfig, site: web::Data<Site>) {
    // GET, and HEAD as link checkers and `curl -I` ask (actix sends no body for HEAD)
    fn static_route<F, Args>(path: &str, handler: F) -> actix_web::Resource
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        crate::routes::resource(path, "GET, HEAD").route(
            web::route()
                .guard(actix_web::guard::Any(actix_web::guard::Get()).or(actix_web::guard::Head()))
                .to(handler),
        )
    }
    cfg.app_data(site)
        .service(static_route("/", index))
        .service(static_route("/ui/{name}", dashboard))
        .service(static_route("/docs", docs_page))
        .service(static_route("/docs/", docs_page))
        .service(static_route("/docs/{name}", docs));
}

async fn index(site: web::Data<Site>, req: HttpRequest) -> HttpResponse {
    site.index.reply(&req)
}

async fn docs_page(site: web::Data<Site>, req: HttpRequest) -> HttpResponse {
    site.docs_page.reply(&req)
}

async fn dashboard(
    site: web::Data<Site>,
    name: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    file(&site.dashboard, &name, &req)
}

async fn docs(site: web::Data<Site>, name: web::Path<String>, req: HttpRequest) -> HttpResponse {
    file(&site.docs, &name, &req)
}

fn file(files: &[(&'static str, Served)], name: &str, req: &HttpRequest) -> HttpResponse {
    match files.iter().find(|(n, _)| *n == name) {
        Some((_, served)) => served.reply(req),
        None => HttpResponse::NotFound().json(ErrorBody::new("Not found")),
    }
}
