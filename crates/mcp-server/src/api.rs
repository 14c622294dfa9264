//! The api-gateway, as this server's one source of truth: typed calls with the API's own wire
//! types (`agentq_api_types`), each made with the caller's bearer token. Nothing here touches
//! Redis or SQL.

use agentq_api_types::Answer;
use agentq_api_types::ErrorBody;
use agentq_api_types::accounts::{LoginRequest, Token};
use agentq_api_types::agents::Agent;
use agentq_api_types::jobs::{
    DecisionRequest, Job, JobCancelled, JobDecision, JobLogs, JobPage, JobRequeued, ListJobsQuery,
    QueuedJob,
};
use agentq_api_types::projects::{Project, ProjectUsage, Task};
use agentq_api_types::workers::WorkerStatus;
use agentq_domain::JobRequest;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

/// Why a call did not give its answer: what the API said, or that it could not be reached.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiFailure {
    /// The API answered with an error status and its `{"error", "details"}` body.
    Refused { status: u16, body: ErrorBody },
    /// No answer: the gateway is down or unreachable.
    Unreachable(String),
    /// An answer that is not the API's shape (a proxy's page, say).
    Unexpected(String),
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused { status, body } => {
                write!(f, "{status}: {}", body.error)?;
                if let Some(details) = &body.details {
                    write!(f, " ({details})")?;
                }
                Ok(())
            }
            Self::Unreachable(why) => write!(f, "the agentq API cannot be reached: {why}"),
            Self::Unexpected(why) => write!(f, "the agentq API answered unexpectedly: {why}"),
        }
    }
}

impl ApiFailure {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

type Result<T> = std::result::Result<T, ApiFailure>;

/// The gateway at `base` (e.g. `http://127.0.0.1:8080`).
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Url,
}

impl Api {
    pub fn new(base: Url) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self { http, base }
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<T> {
        let url = self
            .base
            .join(path)
            .map_err(|e| ApiFailure::Unexpected(format!("{path}: {e}")))?;
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ApiFailure::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ApiFailure::Unreachable(e.without_url().to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| ApiFailure::Unexpected(format!("{status}: {e}")));
        }
        let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| {
            ErrorBody::new(status.canonical_reason().unwrap_or("error").to_owned())
        });
        Err(ApiFailure::Refused {
            status: status.as_u16(),
            body,
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, token: Option<&str>) -> Result<T> {
        self.call::<(), T>(Method::GET, path, token, None).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&str>,
        body: &B,
    ) -> Result<T> {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Token> {
        let body = LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
        };
        let answer: Answer<Token> = self.post("/api/auth/login", None, &body).await?;
        Ok(answer.data)
    }

    pub async fn queue_job(&self, token: Option<&str>, request: &JobRequest) -> Result<QueuedJob> {
        let answer: Answer<QueuedJob> = self
            .post("/api/agent-execution/queue", token, request)
            .await?;
        Ok(answer.data)
    }

    pub async fn job(&self, token: Option<&str>, id: &str) -> Result<Job> {
        let answer: Answer<Job> = self
            .get(&format!("/api/agent-execution/jobs/{}", segment(id)), token)
            .await?;
        Ok(answer.data)
    }

    pub async fn cancel_job(&self, token: Option<&str>, id: &str) -> Result<JobCancelled> {
        let path = format!("/api/agent-execution/jobs/{}/cancel", segment(id));
        let answer: Answer<JobCancelled> = self.post(&path, token, &()).await?;
        Ok(answer.data)
    }

    pub async fn retry_job(&self, token: Option<&str>, id: &str) -> Result<JobRequeued> {
        let path = format!("/api/agent-execution/jobs/{}/retry", segment(id));
        let answer: Answer<JobRequeued> = self.post(&path, token, &()).await?;
        Ok(answer.data)
    }

    /// Approves (`approve`) or rejects (`reject`) a job that awaits a decision.
    pub async fn decide_job(
        &self,
        token: Option<&str>,
        id: &str,
        verdict: Verdict,
        request: &DecisionRequest,
    ) -> Result<JobDecision> {
        let path = format!(
            "/api/agent-execution/jobs/{}/{}",
            segment(id),
            verdict.path()
        );
        let answer: Answer<JobDecision> = self.post(&path, token, request).await?;
        Ok(answer.data)
    }

    pub async fn job_logs(&self, token: Option<&str>, id: &str) -> Result<JobLogs> {
        let path = format!("/api/agent-execution/jobs/{}/logs", segment(id));
        let answer: Answer<JobLogs> = self.get(&path, token).await?;
        Ok(answer.data)
    }

    pub async fn list_jobs(&self, token: Option<&str>, query: &ListJobsQuery) -> Result<JobPage> {
        let mut url = self
            .base
            .join("/api/agent-execution/jobs")
            .map_err(|e| ApiFailure::Unexpected(e.to_string()))?;
        {
            let mut pairs = url.query_pairs_mut();
            let mut put = |name: &str, value: Option<String>| {
                if let Some(value) = value {
                    pairs.append_pair(name, &value);
                }
            };
            put("state", query.state.clone());
            put("agentId", query.agent_id.map(|v| v.to_string()));
            put("taskId", query.task_id.map(|v| v.to_string()));
            put("projectId", query.project_id.map(|v| v.to_string()));
            put("limit", query.limit.map(|v| v.to_string()));
            put("cursor", query.cursor.clone());
        }
        let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        self.get(&path, token).await
    }

    pub async fn workers(&self, token: Option<&str>) -> Result<WorkerStatus> {
        let answer: Answer<WorkerStatus> = self.get("/api/agent-execution/workers", token).await?;
        Ok(answer.data)
    }

    pub async fn agents(&self, token: Option<&str>) -> Result<Vec<Agent>> {
        let answer: Answer<Vec<Agent>> = self.get("/api/agents", token).await?;
        Ok(answer.data)
    }

    pub async fn projects(&self, token: Option<&str>) -> Result<Vec<Project>> {
        let answer: Answer<Vec<Project>> = self.get("/api/projects", token).await?;
        Ok(answer.data)
    }

    pub async fn tasks(&self, token: Option<&str>, project: i64) -> Result<Vec<Task>> {
        let answer: Answer<Vec<Task>> = self
            .get(&format!("/api/projects/{project}/tasks"), token)
            .await?;
        Ok(answer.data)
    }

    pub async fn usage(&self, token: Option<&str>, project: i64) -> Result<ProjectUsage> {
        let answer: Answer<ProjectUsage> = self
            .get(&format!("/api/projects/{project}/usage"), token)
            .await?;
        Ok(answer.data)
    }
}

/// A job id as one path segment: anything that is not a plain id character is escaped, so an
/// id can never name another route.
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// Whether a failure means the caller's credentials did not work (401).
pub fn is_unauthorized(failure: &ApiFailure) -> bool {
    failure.status() == Some(StatusCode::UNAUTHORIZED.as_u16())
}

/// A decision on a job that awaits one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    fn path(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }
}
