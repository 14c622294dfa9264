use serde_json::{Value, json};

use super::*;

fn parse(body: Value) -> Result<JobRequest, ValidationErrors> {
    QueueJobRequest::parse(body.to_string().as_bytes())
}

fn refused_at(body: Value, path: &str) -> Vec<String> {
    let errors = parse(body.clone()).expect_err(&format!("{body} must be refused"));
    let messages: Vec<String> = errors
        .messages_at(path)
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert!(
        !messages.is_empty(),
        "{body}: expected an error at {path:?}, got {errors}"
    );
    messages
}

fn full_request() -> Value {
    json!({
        "taskId": 12,
        "agentId": 3,
        "metadata": {"priority": "high", "estimatedHours": 2.5, "retryCount": 0},
        "context": {"dependencies": [1, 2], "relatedTasks": [-4], "memoryIds": [0]},
        "mcpConfigs": [{
            "serverName": "fs",
            "serverUrl": "https://mcp.example.com/sse",
            "authType": "bearer",
            "authCredentials": {"token": "s3cret"},
            "enabled": true
        }]
    })
}

#[test]
fn accepts_the_minimal_request() {
    let request = parse(json!({"taskId": 1, "agentId": 2})).expect("valid");
    assert_eq!(request.task_id.get(), 1);
    assert_eq!(request.agent_id.get(), 2);
    assert_eq!(request.priority(), Priority::Medium);
    assert!(request.mcp_configs.is_empty());
}

#[test]
fn accepts_every_field_of_the_seed_schema() {
    let request = parse(full_request()).expect("valid");
    assert_eq!(request.priority(), Priority::High);
    let metadata = request.metadata.clone().expect("metadata");
    assert_eq!(metadata.estimated_hours, Some(2.5));
    assert_eq!(metadata.retry_count, Some(0));
    let context = request.context.clone().expect("context");
    assert_eq!(context.related_tasks, Some(vec![-4]));
    assert_eq!(request.mcp_configs[0].auth_type, AuthType::Bearer);
    assert_eq!(
        request.mcp_configs[0]
            .auth_credentials
            .as_ref()
            .and_then(|c| c.get("token")),
        Some(&json!("s3cret"))
    );
}

#[test]
fn accepts_what_javascript_reads_as_an_integer_and_ignores_unknown_keys() {
    let request = parse(json!({"taskId": 7.0, "agentId": 1e2, "extra": {"x": 1}})).expect("valid");
    assert_eq!(request.task_id.get(), 7);
    assert_eq!(request.agent_id.get(), 100);
}

#[test]
fn accepts_empty_objects_and_lists() {
    let body = json!({"taskId": 1, "agentId": 1, "metadata": {}, "context": {"dependencies": []}, "mcpConfigs": []});
    assert!(parse(body).is_ok());
    let no_credentials = json!({"taskId": 1, "agentId": 1, "mcpConfigs": [
        {"serverName": "", "serverUrl": "http://localhost:9000", "authType": "none", "enabled": false}
    ]});
    assert!(parse(no_credentials).is_ok());
}

#[test]
fn refuses_ids_that_are_not_positive_integers() {
    assert_eq!(
        refused_at(json!({"taskId": 0, "agentId": 1}), "taskId"),
        ["Task ID must be a positive integer"]
    );
    assert_eq!(
        refused_at(json!({"taskId": 1, "agentId": -5}), "agentId"),
        ["Agent ID must be a positive integer"]
    );
    assert_eq!(
        refused_at(json!({"taskId": 1.5, "agentId": 1}), "taskId"),
        ["Task ID must be a positive integer"]
    );
    refused_at(json!({"taskId": "1", "agentId": 1}), "taskId");
    refused_at(json!({"taskId": true, "agentId": 1}), "taskId");
    refused_at(json!({"taskId": 1e20, "agentId": 1}), "taskId");
    refused_at(
        json!({"taskId": 18446744073709551615u64, "agentId": 1}),
        "taskId",
    );
}

#[test]
fn reports_every_value_error_at_once() {
    let errors = parse(json!({"taskId": 0, "agentId": 0})).expect_err("refused");
    assert_eq!(errors.issues().len(), 2);
}

#[test]
fn refuses_missing_required_fields_and_nulls() {
    assert_eq!(refused_at(json!({"agentId": 1}), "taskId"), ["Required"]);
    assert_eq!(refused_at(json!({"taskId": 1}), "agentId"), ["Required"]);
    refused_at(json!({"taskId": 1, "agentId": null}), "agentId");
    refused_at(
        json!({"taskId": 1, "agentId": 1, "metadata": null}),
        "metadata",
    );
    refused_at(
        json!({"taskId": 1, "agentId": 1, "metadata": {"priority": null}}),
        "metadata.priority",
    );
}

#[test]
fn refuses_bad_metadata() {
    let with = |metadata: Value| json!({"taskId": 1, "agentId": 1, "metadata": metadata});
    refused_at(with(json!({"priority": "urgent"})), "metadata.priority");
    refused_at(with(json!({"priority": "HIGH"})), "metadata.priority");
    assert_eq!(
        refused_at(
            with(json!({"estimatedHours": 0})),
            "metadata.estimatedHours"
        ),
        ["Number must be greater than 0"]
    );
    refused_at(
        with(json!({"estimatedHours": -2})),
        "metadata.estimatedHours",
    );
    refused_at(
        with(json!({"estimatedHours": "2"})),
        "metadata.estimatedHours",
    );
    refused_at(with(json!({"retryCount": -1})), "metadata.retryCount");
    assert_eq!(
        refused_at(with(json!({"retryCount": 0.5})), "metadata.retryCount"),
        ["Expected integer, received float"]
    );
}

#[test]
fn refuses_context_lists_of_non_integers() {
    let with = |context: Value| json!({"taskId": 1, "agentId": 1, "context": context});
    refused_at(
        with(json!({"dependencies": [1, 2.5]})),
        "context.dependencies",
    );
    refused_at(
        with(json!({"relatedTasks": ["4"]})),
        "context.relatedTasks.0",
    );
    refused_at(with(json!({"memoryIds": 3})), "context.memoryIds");
}

#[test]
fn refuses_bad_mcp_configs() {
    let config = |patch: Value| {
        let mut config = full_request()["mcpConfigs"][0].clone();
        if let (Some(target), Some(patch)) = (config.as_object_mut(), patch.as_object()) {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    target.insert(key.clone(), value.clone());
                }
            }
        }
        json!({"taskId": 1, "agentId": 1, "mcpConfigs": [config]})
    };
    refused_at(
        config(json!({"serverUrl": "not a url"})),
        "mcpConfigs.0.serverUrl",
    );
    refused_at(
        config(json!({"authType": "oauth"})),
        "mcpConfigs.0.authType",
    );
    refused_at(config(json!({"enabled": null})), "mcpConfigs.0.enabled");
    refused_at(config(json!({"enabled": "yes"})), "mcpConfigs.0.enabled");
    refused_at(
        config(json!({"serverName": null})),
        "mcpConfigs.0.serverName",
    );
    refused_at(
        config(json!({"authCredentials": ["x"]})),
        "mcpConfigs.0.authCredentials",
    );
    refused_at(
        json!({"taskId": 1, "agentId": 1, "mcpConfigs": {}}),
        "mcpConfigs",
    );
}

#[test]
fn refuses_bodies_that_are_not_one_json_object() {
    for body in [
        "",
        "{",
        "[1,2]",
        "null",
        "42",
        "{\"taskId\":1,\"agentId\":1} x",
    ] {
        let errors = QueueJobRequest::parse(body.as_bytes()).expect_err(body);
        assert_eq!(errors.issues()[0].path, [], "{body}");
    }
}

#[test]
fn serializes_back_to_the_seeds_camel_case_shape() {
    let request = parse(full_request()).expect("valid");
    let json = serde_json::to_value(&request).expect("serializable");
    assert_eq!(json["taskId"], 12);
    assert_eq!(json["metadata"]["estimatedHours"], 2.5);
    assert_eq!(json["context"]["relatedTasks"], json!([-4]));
    assert_eq!(
        json["mcpConfigs"][0]["serverUrl"],
        "https://mcp.example.com/sse"
    );
}

#[test]
fn the_most_negative_integer_is_refused_not_a_panic() {
    // i64::MIN has no absolute value: found by schemathesis, which closed the connection
    let min = json!({"taskId": 1, "agentId": 1, "context": {"memoryIds": [i64::MIN]}});
    assert!(!refused_at(min, "context.memoryIds").is_empty());
    assert_eq!(integer(&serde_json::Number::from(i64::MIN)), None);
    assert_eq!(
        integer(&serde_json::Number::from(-MAX_SAFE_INTEGER)),
        Some(-MAX_SAFE_INTEGER)
    );
}
