//! Who may call the emulator: AWS Signature Version 4 on every API request, checked against the
//! access keys the emulator is given, and a small IAM-like policy per key.
//!
//! * **Keys** come from a YAML file (a mounted Secret in the cluster), each with a name, an
//!   access key id, a secret, the actions it may call (`evidently:Evaluate*`,
//!   `evidently:PutProjectEvents`, `evidently:*`) and optionally the resources (ARN patterns) it
//!   may act on. The file is read again when it changes, so keys rotate without a restart; a file
//!   that does not parse keeps the keys in force and says so in the log.
//! * **Signatures** are computed again with the AWS SDK's own signing crate (`aws-sigv4`) over
//!   exactly the headers the client signed, and compared in constant time (`subtle`). Both the
//!   `Authorization` header and the query-string (presigned) forms are accepted; the credential
//!   scope must name this emulator's region and the `evidently` service; the clock skew allowed
//!   is AWS's 15 minutes. The `Host` the client signed is used as sent, so the SDKs'
//!   `dataplane.` host prefix needs nothing special.
//! * **Failures** answer as AWS does: `MissingAuthenticationTokenException`,
//!   `IncompleteSignatureException`, `UnrecognizedClientException`, `InvalidSignatureException`
//!   (403), and the model's `AccessDeniedException` (403) for a call the key may not make.
//!
//! No secret reaches a log or an error message: secrets are held in [`Secret`], whose `Debug`
//! is redacted, and parse errors of the key file are reported by position only.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use aws_credential_types::Credentials;
use aws_sigv4::{
    http_request::{
        SignableBody, SignableRequest, SignatureLocation, SigningParams, SigningSettings, sign,
    },
    sign::v4,
};
use axum::http::HeaderMap;
use k8s_openapi::jiff::{Timestamp, civil, tz::TimeZone};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use wildmatch::WildMatch;

/// The clock skew AWS allows between a request's signing time and its own clock.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);
/// The signing service name of Evidently.
pub const SERVICE: &str = "evidently";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Longest presigned validity AWS accepts (7 days).
const MAX_EXPIRES: u64 = 7 * 24 * 3600;

/// A secret access key: never printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The key file: `keys:` followed by one entry per access key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    keys: Vec<KeySpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct KeySpec {
    /// Who holds the key; shown in metrics, logs and AccessDenied messages.
    name: String,
    access_key_id: String,
    secret_access_key: Secret,
    /// Actions the key may call, IAM style: `evidently:CreateLaunch`, `evidently:Evaluate*`,
    /// `evidently:*`. Case-insensitive.
    allow: Vec<String>,
    /// ARN patterns of the resources the key may act on (default: all). A call acts on the
    /// project it names (for everything inside a project), on the segment it names, or on the
    /// ARN it is given (tags); calls that name no resource (ListProjects, ListSegments,
    /// TestSegmentPattern) need a key with `*`.
    #[serde(default)]
    resources: Option<Vec<String>>,
}

/// An access key the emulator knows, with what it may do.
#[derive(Debug)]
pub struct Principal {
    pub name: String,
    secret: Secret,
    allow: Vec<WildMatch>,
    resources: Option<Vec<WildMatch>>,
}

impl Principal {
    /// Whether the key may call `operation` on `resource` (`None`: a call that names none).
    pub fn may(&self, operation: &str, resource: Option<&str>) -> bool {
        let action = format!("evidently:{operation}").to_ascii_lowercase();
        let allowed = self.allow.iter().any(|p| p.matches(&action));
        let on = match (&self.resources, resource) {
            (None, _) => true,
            (Some(patterns), Some(arn)) => patterns.iter().any(|p| p.matches(arn)),
            (Some(patterns), None) => patterns.iter().any(|p| p.matches("*")),
        };
        allowed && on
    }
}

/// Why a key file cannot be used. Never quotes the file's content.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read the key file {path}: {error}")]
    Read {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error(
        "the key file {path} is not valid{where_} (details withheld: they could quote a secret); expected `keys:` with name, accessKeyId, secretAccessKey, allow and optional resources"
    )]
    Parse { path: PathBuf, where_: String },
    #[error("the key file {path}: {problem}")]
    Invalid { path: PathBuf, problem: String },
}

/// The keys in force, replaced as a whole when the file changes.
#[derive(Debug)]
pub struct Keys {
    path: PathBuf,
    current: RwLock<Arc<Loaded>>,
}

struct Loaded {
    by_id: HashMap<String, Arc<Principal>>,
    /// The file's content as last read, to notice a change.
    text: String,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the file's text: it holds the secrets.
        f.debug_struct("Loaded")
            .field("keys", &self.by_id.len())
            .finish()
    }
}

fn parse(path: &Path, text: &str) -> Result<HashMap<String, Arc<Principal>>, KeysError> {
    let file: KeyFile = serde_yaml::from_str(text).map_err(|e| KeysError::Parse {
        path: path.to_path_buf(),
        where_: e
            .location()
            .map(|l| format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or_default(),
    })?;
    let invalid = |problem: String| KeysError::Invalid {
        path: path.to_path_buf(),
        problem,
    };
    let mut by_id = HashMap::new();
    let mut names = std::collections::HashSet::new();
    for (i, k) in file.keys.into_iter().enumerate() {
        if k.name.is_empty() || k.access_key_id.is_empty() || k.secret_access_key.0.is_empty() {
            return Err(invalid(format!(
                "keys[{i}]: name, accessKeyId and secretAccessKey must not be empty"
            )));
        }
        if !names.insert(k.name.clone()) {
            return Err(invalid(format!(
                "keys[{i}]: the name {} is used twice",
                k.name
            )));
        }
        if k.allow.is_empty() {
            return Err(invalid(format!(
                "keys[{i}] ({}): allow must list at least one action",
                k.name
            )));
        }
        if let Some(bad) = k
            .allow
            .iter()
            .find(|a| !a.to_ascii_lowercase().starts_with("evidently:") && a.as_str() != "*")
        {
            return Err(invalid(format!(
                "keys[{i}] ({}): action {bad:?} is not of the form evidently:Operation (wildcards * and ? allowed)",
                k.name
            )));
        }
        let principal = Principal {
            name: k.name.clone(),
            secret: k.secret_access_key,
            allow: k
                .allow
                .iter()
                .map(|a| {
                    let a = if a == "*" { "evidently:*" } else { a };
                    WildMatch::new(&a.to_ascii_lowercase())
                })
                .collect(),
            resources: k
                .resources
                .map(|r| r.iter().map(|p| WildMatch::new(p)).collect()),
        };
        if by_id
            .insert(k.access_key_id.clone(), Arc::new(principal))
            .is_some()
        {
            return Err(invalid(format!(
                "keys[{i}] ({}): the access key id is used twice",
                k.name
            )));
        }
    }
    Ok(by_id)
}

impl Keys {
    /// Reads the key file; an unreadable or invalid file is an error (the emulator does not
    /// start without the keys it was told to use).
    pub fn load(path: &Path) -> Result<Keys, KeysError> {
        let text = std::fs::read_to_string(path).map_err(|error| KeysError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let by_id = parse(path, &text)?;
        Ok(Keys {
            path: path.to_path_buf(),
            current: RwLock::new(Arc::new(Loaded { by_id, text })),
        })
    }

    /// Reads the file again; replaces the keys if it changed and is valid. Returns whether the
    /// keys changed.
    pub fn reload(&self) -> Result<bool, KeysError> {
        let text = std::fs::read_to_string(&self.path).map_err(|error| KeysError::Read {
            path: self.path.clone(),
            error,
        })?;
        if self.snapshot().text == text {
            return Ok(false);
        }
        let by_id = parse(&self.path, &text)?;
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(Loaded { by_id, text });
        }
        Ok(true)
    }

    /// Reloads every `every` until the process ends (Kubernetes updates a mounted Secret by
    /// swapping a symlink, so the content is what is compared).
    pub fn watch(self: Arc<Self>, every: Duration) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.reload() {
                    Ok(true) => tracing::info!(
                        path = %self.path.display(),
                        keys = self.snapshot().by_id.len(),
                        "access keys reloaded"
                    ),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "access keys not reloaded; the previous keys stay in force")
                    }
                }
            }
        });
    }

    fn snapshot(&self) -> Arc<Loaded> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.snapshot().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, access_key_id: &str) -> Option<Arc<Principal>> {
        self.snapshot().by_id.get(access_key_id).cloned()
    }
}

/// A refused request: the AWS error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AuthError {
    pub code: &'static str,
    pub message: String,
    /// The key's name when the access key id is known (for metrics).
    pub key: Option<String>,
}

pub const MISSING_TOKEN: &str = "MissingAuthenticationTokenException";
pub const INCOMPLETE: &str = "IncompleteSignatureException";
pub const UNRECOGNIZED: &str = "UnrecognizedClientException";
pub const INVALID: &str = "InvalidSignatureException";

fn fail(code: &'static str, message: impl Into<String>) -> AuthError {
    AuthError {
        code,
        message: message.into(),
        key: None,
    }
}

/// The request as the verifier needs it.
pub struct Request<'a> {
    pub method: &'a str,
    /// Path and query exactly as received (still percent-encoded).
    pub path_and_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// What a signature claims, from the header or the query string.
struct Claim {
    access_key_id: String,
    scope_date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
    /// `X-Amz-Date`.
    date: String,
    /// Presigned: how long the signature is valid, and the path and query without the auth
    /// parameters.
    presigned: Option<(u64, String)>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Splits `AKID/20250101/us-east-1/evidently/aws4_request`.
fn credential(value: &str) -> Result<(String, String, String, String), AuthError> {
    let parts: Vec<&str> = value.split('/').collect();
    match parts.as_slice() {
        [id, date, region, service, "aws4_request"] if !id.is_empty() => Ok((
            id.to_string(),
            date.to_string(),
            region.to_string(),
            service.to_string(),
        )),
        _ => Err(fail(
            INCOMPLETE,
            format!(
                "Credential should have the form <access key id>/<date>/<region>/{SERVICE}/aws4_request; got {} parts",
                parts.len()
            ),
        )),
    }
}

fn claim_from_header(auth: &str, headers: &HeaderMap) -> Result<Claim, AuthError> {
    let Some(rest) = auth.strip_prefix(ALGORITHM) else {
        return Err(fail(
            INCOMPLETE,
            format!("Unsupported authorization type; only {ALGORITHM} is accepted"),
        ));
    };
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for part in rest.split(',') {
        if let Some((k, v)) = part.trim().split_once('=') {
            fields.insert(k.trim(), v.trim());
        }
    }
    let mut missing = Vec::new();
    for k in ["Credential", "SignedHeaders", "Signature"] {
        if !fields.contains_key(k) {
            missing.push(format!("Authorization header requires '{k}' parameter."));
        }
    }
    let date = header(headers, "x-amz-date");
    if date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        );
    }
    if !missing.is_empty() {
        return Err(fail(INCOMPLETE, missing.join(" ")));
    }
    let (access_key_id, scope_date, region, service) = credential(fields["Credential"])?;
    Ok(Claim {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers: fields["SignedHeaders"]
            .split(';')
            .map(str::to_ascii_lowercase)
            .collect(),
        signature: fields["Signature"].to_string(),
        date: date.unwrap_or_default().to_string(),
        presigned: None,
    })
}

fn claim_from_query(path_and_query: &str) -> Result<Option<Claim>, AuthError> {
    let Some((path, query)) = path_and_query.split_once('?') else {
        return Ok(None);
    };
    let mut auth: HashMap<String, String> = HashMap::new();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_encoding::percent_decode_str(k).decode_utf8_lossy();
        if key.starts_with("X-Amz-") {
            let value = percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .to_string();
            auth.insert(key.to_string(), value);
        } else {
            kept.push(pair);
        }
    }
    if !auth.contains_key("X-Amz-Algorithm") {
        return Ok(None);
    }
    if auth["X-Amz-Algorithm"] != ALGORITHM {
        return Err(fail(
            INCOMPLETE,
            format!("Unsupported X-Amz-Algorithm; only {ALGORITHM} is accepted"),
        ));
    }
    let missing: Vec<&str> = [
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ]
    .into_iter()
    .filter(|k| !auth.contains_key(*k))
    .collect();
    if !missing.is_empty() {
        return Err(fail(
            INCOMPLETE,
            format!(
                "The query string is missing the signature parameters {}",
                missing.join(", ")
            ),
        ));
    }
    let expires: u64 = auth["X-Amz-Expires"]
        .parse()
        .ok()
        .filter(|e| (1..=MAX_EXPIRES).contains(e))
        .ok_or_else(|| {
            fail(
                INCOMPLETE,
                format!("X-Amz-Expires must be a number of seconds from 1 to {MAX_EXPIRES}"),
            )
        })?;
    let (access_key_id, scope_date, region, service) = credential(&auth["X-Amz-Credential"])?;
    let rest = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    Ok(Some(Claim {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers: auth["X-Amz-SignedHeaders"]
            .split(';')
            .map(str::to_ascii_lowercase)
            .collect(),
        signature: auth["X-Amz-Signature"].clone(),
        date: auth["X-Amz-Date"].clone(),
        presigned: Some((expires, rest)),
    }))
}

/// `20250101T000000Z` as a time.
fn amz_date(value: &str) -> Option<Timestamp> {
    civil::DateTime::strptime("%Y%m%dT%H%M%SZ", value)
        .ok()?
        .to_zoned(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn amz_format(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Checks the request's signature against `keys`; the key that signed it.
pub fn authenticate(
    keys: &Keys,
    region: &str,
    request: &Request<'_>,
    now: SystemTime,
) -> Result<Arc<Principal>, AuthError> {
    let claim = match header(request.headers, "authorization") {
        Some(auth) => claim_from_header(auth, request.headers)?,
        None => claim_from_query(request.path_and_query)?
            .ok_or_else(|| fail(MISSING_TOKEN, "Missing Authentication Token"))?,
    };
    if claim.region != region {
        return Err(fail(
            INVALID,
            format!(
                "Credential should be scoped to a valid region. This emulator serves '{region}', not '{}'.",
                claim.region
            ),
        ));
    }
    if claim.service != SERVICE {
        return Err(fail(
            INVALID,
            format!("Credential should be scoped to correct service: '{SERVICE}'."),
        ));
    }
    let principal = keys.get(&claim.access_key_id).ok_or_else(|| {
        fail(
            UNRECOGNIZED,
            "The security token included in the request is invalid.",
        )
    })?;
    let named = |mut e: AuthError| {
        e.key = Some(principal.name.clone());
        e
    };
    let signed_at = amz_date(&claim.date).ok_or_else(|| {
        named(fail(
            INCOMPLETE,
            "X-Amz-Date must have the form YYYYMMDDTHHMMSSZ",
        ))
    })?;
    if !claim.date.starts_with(&claim.scope_date) || claim.scope_date.len() != 8 {
        return Err(named(fail(
            INVALID,
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
                claim.scope_date,
                &claim.date[..8.min(claim.date.len())]
            ),
        )));
    }
    let now_ts = Timestamp::try_from(now).unwrap_or(Timestamp::UNIX_EPOCH);
    let skew = k8s_openapi::jiff::SignedDuration::try_from(MAX_SKEW).unwrap_or_default();
    let earliest = now_ts.checked_sub(skew).unwrap_or(now_ts);
    let latest = now_ts.checked_add(skew).unwrap_or(now_ts);
    let expired_before = match claim.presigned {
        Some((expires, _)) => signed_at
            .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(expires as i64))
            .unwrap_or(signed_at),
        None => signed_at.checked_add(skew).unwrap_or(signed_at),
    };
    if expired_before < now_ts {
        return Err(named(fail(
            INVALID,
            format!(
                "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                amz_format(signed_at),
                amz_format(earliest),
                amz_format(now_ts)
            ),
        )));
    }
    if signed_at > latest {
        return Err(named(fail(
            INVALID,
            format!(
                "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                amz_format(signed_at),
                amz_format(latest),
                amz_format(now_ts)
            ),
        )));
    }
    if !claim.signed_headers.iter().any(|h| h == "host") {
        return Err(named(fail(INCOMPLETE, "'Host' must be a signed header")));
    }
    if claim
        .signed_headers
        .iter()
        .any(|h| h == "x-amz-security-token")
    {
        // The emulator's keys are long-term keys: a session token names nothing it knows.
        return Err(named(fail(
            UNRECOGNIZED,
            "The security token included in the request is invalid.",
        )));
    }

    let expected = expected_signature(&principal, region, request, &claim, signed_at)
        .map_err(|m| named(fail(INCOMPLETE, m)))?;
    if bool::from(expected.as_bytes().ct_eq(claim.signature.as_bytes())) {
        Ok(principal)
    } else {
        Err(named(fail(
            INVALID,
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )))
    }
}

/// The signature the key's secret gives this request, computed by `aws-sigv4` over exactly
/// the headers the client listed.
fn expected_signature(
    principal: &Principal,
    region: &str,
    request: &Request<'_>,
    claim: &Claim,
    signed_at: Timestamp,
) -> Result<String, String> {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for name in &claim.signed_headers {
        // x-amz-date is added by the signer from the signing time (the same value).
        if name == "x-amz-date" && claim.presigned.is_none() {
            continue;
        }
        let values: Vec<&str> = request
            .headers
            .get_all(name.as_str())
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if values.is_empty() {
            return Err(format!(
                "the signed header {name} is missing from the request"
            ));
        }
        for v in values {
            headers.push((name.as_str(), v));
        }
    }
    // The access key id is part of a presigned request's canonical query string.
    let identity = Credentials::new(
        claim.access_key_id.clone(),
        principal.secret.expose(),
        None,
        None,
        "emulator",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Exactly the headers the client signed, no more and no fewer.
    settings.excluded_headers = Some(Vec::new());
    let path_and_query = match &claim.presigned {
        Some((expires, rest)) => {
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(*expires));
            rest.as_str()
        }
        None => request.path_and_query,
    };
    let time = SystemTime::from(signed_at);
    let params: SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let signable = SignableRequest::new(
        request.method,
        path_and_query,
        headers.into_iter(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| format!("the request cannot be signed: {e}"))?;
    let output =
        sign(signable, &params).map_err(|e| format!("the request cannot be signed: {e}"))?;
    Ok(output.signature().to_string())
}

/// `AccessDeniedException`'s message, as IAM words it.
pub fn denied_message(
    account: &str,
    principal: &Principal,
    operation: &str,
    resource: Option<&str>,
) -> String {
    format!(
        "User: arn:aws:iam::{account}:user/{} is not authorized to perform: evidently:{operation} on resource: {}",
        principal.name,
        resource.unwrap_or("*")
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const FILE: &str = r#"
keys:
  - name: controller
    accessKeyId: AKIDCONTROLLER
    secretAccessKey: controller-secret
    allow: ["evidently:*"]
  - name: checkout-app
    accessKeyId: AKIDAPP
    secretAccessKey: app-secret
    allow: ["evidently:Evaluate*", "evidently:BatchEvaluateFeature", "evidently:PutProjectEvents"]
    resources: ["arn:aws:evidently:us-east-1:123456789012:project/shop"]
"#;

    fn keys() -> (tempfile::TempDir, Keys) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.yaml");
        std::fs::write(&path, FILE).unwrap();
        let keys = Keys::load(&path).unwrap();
        (dir, keys)
    }

    /// Signs like a client does, with `aws-sigv4`.
    fn signed(
        secret: &str,
        access_key: &str,
        region: &str,
        method: &str,
        path: &str,
        body: &[u8],
        at: SystemTime,
    ) -> HeaderMap {
        let identity = Credentials::new(access_key, secret, None, None, "test").into();
        let params: SigningParams<'_> = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(SERVICE)
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let base = [
            ("host", "127.0.0.1:8080"),
            ("content-type", "application/json"),
        ];
        let request = SignableRequest::new(
            method,
            format!("http://127.0.0.1:8080{path}"),
            base.into_iter(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(request, &params).unwrap().into_parts();
        let mut headers = HeaderMap::new();
        for (k, v) in base {
            headers.insert(k, HeaderValue::from_static(v));
        }
        for (k, v) in instructions.headers() {
            headers.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    fn check(
        keys: &Keys,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
    ) -> Result<String, AuthError> {
        authenticate(
            keys,
            "us-east-1",
            &Request {
                method: "POST",
                path_and_query: path,
                headers,
                body,
            },
            SystemTime::now(),
        )
        .map(|p| p.name.clone())
    }

    #[test]
    fn a_request_signed_with_a_known_key_is_accepted_and_names_the_key() {
        let (_dir, keys) = keys();
        let body = br#"{"entityId": "u1"}"#;
        let path = "/projects/shop/evaluations/checkout";
        let h = signed(
            "app-secret",
            "AKIDAPP",
            "us-east-1",
            "POST",
            path,
            body,
            SystemTime::now(),
        );
        assert_eq!(check(&keys, &h, path, body), Ok("checkout-app".into()));
    }

    #[test]
    fn each_kind_of_bad_signature_gets_its_aws_code() {
        let (_dir, keys) = keys();
        let body = br#"{"entityId": "u1"}"#;
        let path = "/projects/shop/evaluations/checkout";
        let now = SystemTime::now();
        let code = |h: &HeaderMap, b: &[u8]| check(&keys, h, path, b).unwrap_err().code;
        let app_signed_at =
            |t: SystemTime| signed("app-secret", "AKIDAPP", "us-east-1", "POST", path, body, t);

        let wrong_secret = signed("nope", "AKIDAPP", "us-east-1", "POST", path, body, now);
        assert_eq!(code(&wrong_secret, body), INVALID);
        let unknown = signed("x", "AKIDUNKNOWN", "us-east-1", "POST", path, body, now);
        assert_eq!(code(&unknown, body), UNRECOGNIZED);
        let old = app_signed_at(now - Duration::from_secs(16 * 60));
        let e = check(&keys, &old, path, body).unwrap_err();
        assert_eq!(e.code, INVALID);
        assert!(e.message.starts_with("Signature expired"), "{e}");
        let future = app_signed_at(now + Duration::from_secs(16 * 60));
        let e = check(&keys, &future, path, body).unwrap_err();
        assert!(e.message.starts_with("Signature not yet current"), "{e}");
        let good = app_signed_at(now);
        assert_eq!(
            code(&good, br#"{"entityId": "u2"}"#),
            INVALID,
            "tampered body"
        );
        let mut tampered = good.clone();
        tampered.insert("content-type", HeaderValue::from_static("text/plain"));
        assert_eq!(code(&tampered, body), INVALID, "tampered header");
        assert_eq!(
            check(&keys, &good, "/projects/shop/evaluations/other", body)
                .unwrap_err()
                .code,
            INVALID,
            "another path"
        );
        let mut none = good.clone();
        none.remove("authorization");
        assert_eq!(code(&none, body), MISSING_TOKEN);
        let mut partial = good.clone();
        partial.insert(
            "authorization",
            HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIDAPP/20260101/us-east-1/evidently/aws4_request",
            ),
        );
        assert_eq!(code(&partial, body), INCOMPLETE);
        let other_region = signed(
            "app-secret",
            "AKIDAPP",
            "eu-west-1",
            "POST",
            path,
            body,
            now,
        );
        assert_eq!(code(&other_region, body), INVALID);
    }

    #[test]
    fn a_presigned_query_string_is_accepted_until_it_expires() {
        let (_dir, keys) = keys();
        let path = "/projects/shop/evaluations/checkout";
        let presign = |at: SystemTime| {
            let identity = Credentials::new("AKIDAPP", "app-secret", None, None, "test").into();
            let mut settings = SigningSettings::default();
            settings.signature_location = SignatureLocation::QueryParams;
            settings.expires_in = Some(Duration::from_secs(60));
            let params: SigningParams<'_> = v4::SigningParams::builder()
                .identity(&identity)
                .region("us-east-1")
                .name(SERVICE)
                .time(at)
                .settings(settings)
                .build()
                .unwrap()
                .into();
            let request = SignableRequest::new(
                "POST",
                format!("http://127.0.0.1:8080{path}"),
                [("host", "127.0.0.1:8080")].into_iter(),
                SignableBody::Bytes(b"{}"),
            )
            .unwrap();
            let (instructions, _) = sign(request, &params).unwrap().into_parts();
            let query: Vec<String> = instructions
                .params()
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        percent_encoding::utf8_percent_encode(
                            v,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    )
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        };
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:8080"));
        let fresh = presign(SystemTime::now());
        assert_eq!(
            check(&keys, &headers, &fresh, b"{}"),
            Ok("checkout-app".into())
        );
        let stale = presign(SystemTime::now() - Duration::from_secs(120));
        let e = check(&keys, &headers, &stale, b"{}").unwrap_err();
        assert!(e.message.starts_with("Signature expired"), "{e}");
    }

    #[test]
    fn policies_allow_actions_by_wildcard_and_resources_by_arn_pattern() {
        let (_dir, keys) = keys();
        let app = keys.get("AKIDAPP").unwrap();
        let shop = "arn:aws:evidently:us-east-1:123456789012:project/shop";
        assert!(app.may("EvaluateFeature", Some(shop)));
        assert!(app.may("BatchEvaluateFeature", Some(shop)));
        assert!(app.may("PutProjectEvents", Some(shop)));
        assert!(!app.may("CreateLaunch", Some(shop)));
        assert!(!app.may(
            "EvaluateFeature",
            Some("arn:aws:evidently:us-east-1:123456789012:project/other")
        ));
        assert!(
            !app.may("EvaluateFeature", None),
            "a call naming no resource needs *"
        );
        let controller = keys.get("AKIDCONTROLLER").unwrap();
        assert!(
            controller.may("deletelaunch", Some(shop)),
            "actions are case-insensitive"
        );
        assert!(controller.may("ListProjects", None));
        assert_eq!(
            denied_message("123456789012", &app, "CreateLaunch", Some(shop)),
            format!(
                "User: arn:aws:iam::123456789012:user/checkout-app is not authorized to perform: evidently:CreateLaunch on resource: {shop}"
            )
        );
    }

    #[test]
    fn a_bad_key_file_is_refused_without_quoting_it_and_keeps_the_keys_in_force() {
        let (dir, keys) = keys();
        let path = dir.path().join("keys.yaml");
        std::fs::write(
            &path,
            "keys:\n  - name: x\n    accessKeyId: A\n    secretAccessKey: [top-secret-value\n",
        )
        .unwrap();
        let e = keys.reload().unwrap_err().to_string();
        assert!(!e.contains("top-secret-value"), "{e}");
        assert!(e.contains("line"), "{e}");
        assert_eq!(keys.len(), 2, "the previous keys stay");
        let e = Keys::load(&path).err().unwrap().to_string();
        assert!(!e.contains("top-secret-value"), "{e}");
        std::fs::write(
            &path,
            "keys:\n  - {name: a, accessKeyId: A, secretAccessKey: s, allow: [CreateLaunch]}\n",
        )
        .unwrap();
        let e = Keys::load(&path).err().unwrap().to_string();
        assert!(e.contains("evidently:Operation"), "{e}");
        std::fs::write(&path, "keys:\n  - {name: new, accessKeyId: NEW, secretAccessKey: s, allow: ['evidently:*']}\n").unwrap();
        assert!(keys.reload().unwrap());
        assert!(keys.get("NEW").is_some() && keys.get("AKIDAPP").is_none());
        assert!(!keys.reload().unwrap(), "unchanged");
        assert!(!format!("{:?}", keys.get("NEW").unwrap()).contains("secretAccessKey: s"));
    }
}
