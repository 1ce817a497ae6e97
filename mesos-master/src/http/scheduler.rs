//! `POST /api/v1/scheduler` (upstream `Master::Http::scheduler` in `src/master/http.cpp`),
//! served on the master process.
//!
//! Order of checks and answers: not leading `307` to the leader (`503` if none is known);
//! not recovered `503`; not POST `405`; no Content-Type `400`;
//! Content-Type not JSON or protobuf `415`; a body that does not parse `400`; a call that
//! fails validation `400`; then SUBSCRIBE: Accept negotiation `406`, a `Mesos-Stream-Id`
//! header `400`, otherwise `200` and the event stream. Other calls: unknown framework
//! `400`, principal mismatch `400`, framework not subscribed `403`, missing or wrong
//! `Mesos-Stream-Id` `400`, then `202` (UPDATE_FRAMEWORK `200`, UNKNOWN `501`). Problems
//! with the call's content (stale offers, bad tasks) come back as events, never as HTTP
//! errors.

// The error of these helpers is the HTTP answer itself, built once and returned as is.
#![allow(clippy::result_large_err)]

use libprocess::http::{Method, Request, Response, RouteOptions, StatusCode};
use libprocess::{Context, Future};
use mesos_core::convert::devolve;
use mesos_core::v0::scheduler::call::Type as CallType;
use mesos_core::{v0, v1};
use prost::Message;

use crate::master::MasterProcess;
use crate::master::state::FrameworkId;
use crate::master::stream::{APPLICATION_JSON, APPLICATION_PROTOBUF, ContentType};

/// The authentication realm of the scheduler API.
pub const REALM: &str = "mesos-master-scheduler";

/// Installs the route on the master.
/// The realm's authenticator, installed when `--authenticate_http_frameworks`, decides
/// whether requests need credentials.
pub(crate) fn install(ctx: &mut Context<'_, MasterProcess>) {
    let options = RouteOptions::new().realm(REALM);
    ctx.route_with("/api/v1/scheduler", options, |master, _ctx, request| {
        Future::ready(handle(master, request))
    });
}

/// The request's Content-Type, checked.
pub fn request_content_type(request: &Request) -> Result<ContentType, Response> {
    let Some(value) = request.header("content-type") else {
        return Err(Response::bad_request(
            "Expecting 'Content-Type' to be present",
        ));
    };
    let media = value.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case(APPLICATION_JSON) {
        Ok(ContentType::Json)
    } else if media.eq_ignore_ascii_case(APPLICATION_PROTOBUF) {
        Ok(ContentType::Protobuf)
    } else {
        Err(Response::unsupported_media_type(format!(
            "Expecting 'Content-Type' of {APPLICATION_JSON} or {APPLICATION_PROTOBUF}"
        )))
    }
}

/// The response encoding the Accept header allows: JSON preferred; `None` if neither.
pub fn negotiate_accept(request: &Request) -> Option<ContentType> {
    let Some(accept) = request.header("accept") else {
        return Some(ContentType::Json);
    };
    let quality = |wanted: &str| -> f64 {
        let (wanted_type, _) = wanted.split_once('/').expect("a media type");
        let mut best: Option<(u8, f64)> = None; // (specificity, q)
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let mut q = 1.0;
            for param in parts {
                if let Some(value) = param.trim().strip_prefix("q=") {
                    q = value.trim().parse().unwrap_or(0.0);
                }
            }
            let specificity = if media == wanted {
                3
            } else if media == format!("{wanted_type}/*") {
                2
            } else if media == "*/*" {
                1
            } else {
                continue;
            };
            if best.is_none_or(|(s, _)| specificity > s) {
                best = Some((specificity, q));
            }
        }
        best.map_or(0.0, |(_, q)| q)
    };
    let json = quality(APPLICATION_JSON);
    let protobuf = quality(APPLICATION_PROTOBUF);
    if json > 0.0 && json >= protobuf {
        Some(ContentType::Json)
    } else if protobuf > 0.0 {
        Some(ContentType::Protobuf)
    } else {
        None
    }
}

/// Parses the body into a v1 call, converted to v0.
fn parse_call(content_type: ContentType, body: &[u8]) -> Result<v0::scheduler::Call, Response> {
    let call: v1::scheduler::Call = match content_type {
        ContentType::Json => {
            let text = std::str::from_utf8(body).map_err(|_| {
                Response::bad_request("Failed to parse body into JSON: not valid UTF-8")
            })?;
            mesos_core::json::from_str(text).map_err(|e| {
                Response::bad_request(format!("Failed to convert JSON into Call protobuf: {e}"))
            })?
        }
        ContentType::Protobuf => v1::scheduler::Call::decode(body).map_err(|e| {
            Response::bad_request(format!("Failed to parse body into Call protobuf: {e}"))
        })?,
    };
    Ok(devolve(&call))
}

/// Structural validation (upstream `validation::scheduler::call::validate`).
pub fn validate_call(call: &v0::scheduler::Call) -> Result<(), String> {
    let Some(kind) = call.r#type else {
        return Err("Expecting 'type' to be present".into());
    };
    let kind = CallType::try_from(kind).unwrap_or(CallType::Unknown);
    if kind == CallType::Subscribe {
        let Some(subscribe) = &call.subscribe else {
            return Err("Expecting 'subscribe' to be present".into());
        };
        let info_id = subscribe.framework_info.id.as_ref().map(|id| &id.value);
        let call_id = call.framework_id.as_ref().map(|id| &id.value);
        if info_id != call_id {
            return Err("'framework_id' differs from 'subscribe.framework_info.id'".into());
        }
        return Ok(());
    }
    if kind == CallType::Unknown {
        return Ok(());
    }
    if call.framework_id.is_none() {
        return Err("Expecting 'framework_id' to be present".into());
    }
    let missing = |name: &str| Err(format!("Expecting '{name}' to be present"));
    match kind {
        CallType::Accept if call.accept.is_none() => missing("accept"),
        CallType::Decline if call.decline.is_none() => missing("decline"),
        CallType::AcceptInverseOffers if call.accept_inverse_offers.is_none() => {
            missing("accept_inverse_offers")
        }
        CallType::DeclineInverseOffers if call.decline_inverse_offers.is_none() => {
            missing("decline_inverse_offers")
        }
        CallType::Kill if call.kill.is_none() => missing("kill"),
        CallType::Shutdown if call.shutdown.is_none() => missing("shutdown"),
        CallType::Acknowledge => match &call.acknowledge {
            None => missing("acknowledge"),
            Some(ack) if stout::uuid::Uuid::from_bytes(&ack.uuid).is_err() => {
                Err("Not a valid UUID".into())
            }
            Some(_) => Ok(()),
        },
        CallType::AcknowledgeOperationStatus if call.acknowledge_operation_status.is_none() => {
            missing("acknowledge_operation_status")
        }
        CallType::Reconcile if call.reconcile.is_none() => missing("reconcile"),
        CallType::ReconcileOperations if call.reconcile_operations.is_none() => {
            missing("reconcile_operations")
        }
        CallType::Message if call.message.is_none() => missing("message"),
        CallType::Request if call.request.is_none() => missing("request"),
        CallType::UpdateFramework => match &call.update_framework {
            None => missing("update_framework"),
            Some(update) => {
                let info_id = update.framework_info.id.as_ref().map(|id| &id.value);
                if info_id != call.framework_id.as_ref().map(|id| &id.value) {
                    Err("'framework_id' differs from 'update_framework.framework_info.id'".into())
                } else {
                    Ok(())
                }
            }
        },
        _ => Ok(()),
    }
}

fn handle(master: &mut MasterProcess, request: Request) -> Response {
    if let Some(redirect) = master.not_leading(&request) {
        return redirect;
    }
    if !master.recovered {
        return Response::service_unavailable("Master has not finished recovery");
    }
    if request.method != Method::POST {
        return Response::method_not_allowed(&["POST"], &request.method);
    }
    let content_type = match request_content_type(&request) {
        Ok(content_type) => content_type,
        Err(response) => return response,
    };
    let body = request.body_bytes().cloned().unwrap_or_default();
    let call = match parse_call(content_type, &body) {
        Ok(call) => call,
        Err(response) => return response,
    };
    if let Err(message) = validate_call(&call) {
        return Response::bad_request(format!("Failed to validate scheduler::Call: {message}"));
    }
    let kind = CallType::try_from(call.r#type.unwrap_or_default()).unwrap_or(CallType::Unknown);
    let principal = request.principal.clone();

    if kind == CallType::Subscribe {
        let Some(accept) = negotiate_accept(&request) else {
            return Response::not_acceptable(format!(
                "Expecting 'Accept' to allow '{APPLICATION_JSON}' or '{APPLICATION_PROTOBUF}'"
            ));
        };
        if request.header("mesos-stream-id").is_some() {
            return Response::bad_request(
                "Subscribe calls should not include the 'Mesos-Stream-Id' header",
            );
        }
        let subscribe = call.subscribe.expect("validated");
        return master.subscribe(subscribe, accept, principal);
    }
    if kind == CallType::Unknown {
        return Response::not_implemented("Received 'UNKNOWN' call");
    }

    let framework_id = FrameworkId::from(call.framework_id.as_ref().expect("validated"));
    let Some(framework) = master.state.frameworks.get(&framework_id) else {
        return Response::bad_request("Framework cannot be found");
    };
    if let (Some(principal), Some(claimed)) = (&principal, &framework.info.principal)
        && principal != claimed
    {
        return Response::bad_request(format!(
            "Authenticated principal '{principal}' does not match principal '{claimed}' set in `FrameworkInfo`"
        ));
    }
    let Some(stream) = &framework.stream else {
        return Response::forbidden("Framework is not subscribed");
    };
    let Some(stream_id) = request.header("mesos-stream-id") else {
        return Response::bad_request(
            "All non-subscribe calls should include the 'Mesos-Stream-Id' header",
        );
    };
    if stream_id != stream.stream_id {
        return Response::bad_request(format!(
            "The stream ID '{stream_id}' included in this request didn't match the stream ID currently associated with framework ID {framework_id}"
        ));
    }

    match kind {
        CallType::Teardown => master.remove_framework(&framework_id),
        CallType::Accept => master.accept(&framework_id, call.accept.expect("validated")),
        CallType::Decline => master.decline(&framework_id, call.decline.expect("validated")),
        CallType::AcceptInverseOffers | CallType::DeclineInverseOffers => {
            master.log_dropped_call(&framework_id, "inverse offers are not supported; ignored");
        }
        CallType::Revive => master.revive(
            &framework_id,
            call.revive.map(|r| r.roles).unwrap_or_default(),
        ),
        CallType::Suppress => master.suppress(
            &framework_id,
            call.suppress.map(|s| s.roles).unwrap_or_default(),
        ),
        CallType::Kill => master.kill(&framework_id, call.kill.expect("validated")),
        CallType::Shutdown => {
            master.shutdown_executor(&framework_id, call.shutdown.expect("validated"))
        }
        CallType::Acknowledge => {
            master.acknowledge(&framework_id, call.acknowledge.expect("validated"))
        }
        CallType::AcknowledgeOperationStatus | CallType::ReconcileOperations => {
            master.log_dropped_call(
                &framework_id,
                "operation feedback is not supported; ignored",
            );
        }
        CallType::Reconcile => master.reconcile(&framework_id, call.reconcile.expect("validated")),
        CallType::Message => {
            master.framework_message(&framework_id, call.message.expect("validated"))
        }
        CallType::Request => {
            let requests = call.request.expect("validated").requests;
            master
                .allocator
                .request_resources(framework_id.clone(), requests);
        }
        CallType::UpdateFramework => {
            return match master.update_framework(
                &framework_id,
                call.update_framework.expect("validated"),
                principal.as_deref(),
            ) {
                Ok(()) => Response::new(StatusCode::OK),
                Err(response) => response,
            };
        }
        CallType::Subscribe | CallType::Unknown => unreachable!("handled above"),
    }
    Response::accepted()
}
