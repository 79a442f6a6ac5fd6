//! The operation catalogue: AWS-style calls and REST routes with their HTTP method, path
//! template, response-size distribution and sensitivity; the operation families credentials draw
//! from; CI pipelines; and user agents.
//!
//! Path templates use holes filled per credential: `{id}` a numeric resource id, `{bucket}` an S3
//! bucket, `{obj}` an object key (dated by the event), `{name}` a named resource (queue, table,
//! function, stack), `{user}` an IAM user name.

use std::collections::HashMap;
use std::sync::OnceLock;

/// What an operation does, coarsely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpClass {
    /// Reads one resource.
    Read,
    /// Lists or describes many.
    List,
    /// Creates or changes.
    Write,
    /// Deletes.
    Delete,
    /// Changes who can do what (IAM, roles, keys).
    Sensitive,
    /// Identity and token calls (`GetCallerIdentity`, `AssumeRole`).
    Auth,
}

impl OpClass {
    /// Whether the operation reads or lists data.
    pub fn reads_data(self) -> bool {
        matches!(self, OpClass::Read | OpClass::List)
    }
}

/// Whether a call is AWS-style (service + action) or a REST route on a gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// AWS API: `s3.amazonaws.com` / `GetObject`.
    Aws,
    /// REST: `orders-api` / `GET /v1/orders/{id}`.
    Rest,
}

/// One operation.
#[derive(Debug)]
pub struct Op {
    /// Service name as logged (`s3.amazonaws.com`, `orders-api`).
    pub service: &'static str,
    /// Operation as logged (`GetObject`, `GET /v1/orders/{id}`).
    pub operation: &'static str,
    /// HTTP method.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// Median response bytes.
    pub bytes_median: f32,
    /// Log-normal sigma of response bytes.
    pub bytes_sigma: f32,
    /// What it does.
    pub class: OpClass,
    /// Its style.
    pub style: Style,
}

macro_rules! aws {
    ($svc:literal, $op:literal, $m:literal, $p:literal, $b:expr, $s:expr, $c:ident) => {
        Op {
            service: concat!($svc, ".amazonaws.com"),
            operation: $op,
            method: $m,
            path: $p,
            bytes_median: $b,
            bytes_sigma: $s,
            class: OpClass::$c,
            style: Style::Aws,
        }
    };
}

macro_rules! rest {
    ($svc:literal, $m:literal, $p:literal, $b:expr, $s:expr, $c:ident) => {
        Op {
            service: $svc,
            operation: concat!($m, " ", $p),
            method: $m,
            path: $p,
            bytes_median: $b,
            bytes_sigma: $s,
            class: OpClass::$c,
            style: Style::Rest,
        }
    };
}

/// Every operation the simulator knows.
pub static OPS: &[Op] = &[
    aws!("sts", "GetCallerIdentity", "POST", "/", 450.0, 0.05, Auth),
    aws!("sts", "AssumeRole", "POST", "/roles/{name}", 1400.0, 0.1, Auth),
    aws!("s3", "ListBuckets", "GET", "/", 4000.0, 0.5, List),
    aws!("s3", "ListObjectsV2", "GET", "/{bucket}", 14000.0, 1.0, List),
    aws!("s3", "GetObject", "GET", "/{bucket}/{obj}", 150_000.0, 1.5, Read),
    aws!("s3", "PutObject", "PUT", "/{bucket}/{obj}", 320.0, 0.2, Write),
    aws!("s3", "HeadObject", "HEAD", "/{bucket}/{obj}", 260.0, 0.1, Read),
    aws!("s3", "DeleteObject", "DELETE", "/{bucket}/{obj}", 200.0, 0.1, Delete),
    aws!("s3", "GetBucketPolicy", "GET", "/{bucket}", 1600.0, 0.5, Read),
    aws!("s3", "GetBucketAcl", "GET", "/{bucket}", 1100.0, 0.3, Read),
    aws!("iam", "ListUsers", "POST", "/users", 9000.0, 0.8, List),
    aws!("iam", "ListRoles", "POST", "/roles", 26000.0, 0.8, List),
    aws!("iam", "ListGroups", "POST", "/groups", 3000.0, 0.5, List),
    aws!("iam", "ListPolicies", "POST", "/policies", 60000.0, 0.6, List),
    aws!("iam", "GetUser", "POST", "/users/{user}", 700.0, 0.2, Read),
    aws!("iam", "GetRole", "POST", "/roles/{name}", 2200.0, 0.4, Read),
    aws!("iam", "ListAttachedRolePolicies", "POST", "/roles/{name}/attached-policies", 900.0, 0.4, List),
    aws!("iam", "ListAttachedUserPolicies", "POST", "/users/{user}/attached-policies", 800.0, 0.4, List),
    aws!("iam", "ListUserPolicies", "POST", "/users/{user}/policies", 500.0, 0.3, List),
    aws!("iam", "ListAccessKeys", "POST", "/users/{user}/access-keys", 600.0, 0.2, List),
    aws!("iam", "GetAccountAuthorizationDetails", "POST", "/", 350_000.0, 0.6, List),
    aws!("iam", "CreateAccessKey", "POST", "/users/{user}/access-keys", 650.0, 0.05, Sensitive),
    aws!("iam", "AttachUserPolicy", "POST", "/users/{user}/attached-policies", 300.0, 0.05, Sensitive),
    aws!("iam", "PutUserPolicy", "POST", "/users/{user}/policies/inline", 300.0, 0.05, Sensitive),
    aws!("iam", "CreateLoginProfile", "POST", "/users/{user}/login-profile", 500.0, 0.05, Sensitive),
    aws!("iam", "CreateUser", "POST", "/users/{user}", 600.0, 0.05, Sensitive),
    aws!("iam", "PutRolePolicy", "POST", "/roles/{name}/policies/inline", 300.0, 0.05, Sensitive),
    aws!("iam", "AttachRolePolicy", "POST", "/roles/{name}/attached-policies", 300.0, 0.05, Sensitive),
    aws!("iam", "UpdateAssumeRolePolicy", "POST", "/roles/{name}/trust-policy", 300.0, 0.05, Sensitive),
    aws!("iam", "CreatePolicyVersion", "POST", "/policies/{name}/versions", 700.0, 0.05, Sensitive),
    aws!("ec2", "DescribeInstances", "POST", "/", 40000.0, 1.0, List),
    aws!("ec2", "DescribeSecurityGroups", "POST", "/", 15000.0, 0.8, List),
    aws!("ec2", "DescribeVpcs", "POST", "/", 3000.0, 0.5, List),
    aws!("ec2", "DescribeSubnets", "POST", "/", 6000.0, 0.6, List),
    aws!("ec2", "DescribeRegions", "POST", "/", 2500.0, 0.05, List),
    aws!("ec2", "DescribeSnapshots", "POST", "/", 20000.0, 1.0, List),
    aws!("ec2", "DescribeImages", "POST", "/", 50000.0, 1.0, List),
    aws!("ec2", "DescribeVolumes", "POST", "/", 12000.0, 0.8, List),
    aws!("ec2", "DescribeKeyPairs", "POST", "/", 1200.0, 0.4, List),
    aws!("ec2", "DescribeAddresses", "POST", "/", 1500.0, 0.4, List),
    aws!("dynamodb", "GetItem", "POST", "/tables/{name}", 800.0, 1.0, Read),
    aws!("dynamodb", "PutItem", "POST", "/tables/{name}", 150.0, 0.3, Write),
    aws!("dynamodb", "UpdateItem", "POST", "/tables/{name}", 220.0, 0.4, Write),
    aws!("dynamodb", "Query", "POST", "/tables/{name}", 6000.0, 1.2, Read),
    aws!("dynamodb", "Scan", "POST", "/tables/{name}", 90000.0, 1.0, List),
    aws!("dynamodb", "BatchWriteItem", "POST", "/tables/{name}", 120.0, 0.3, Write),
    aws!("dynamodb", "DescribeTable", "POST", "/tables/{name}", 1500.0, 0.3, Read),
    aws!("dynamodb", "ListTables", "POST", "/", 600.0, 0.5, List),
    aws!("sqs", "SendMessage", "POST", "/queues/{name}", 350.0, 0.2, Write),
    aws!("sqs", "ReceiveMessage", "POST", "/queues/{name}", 2500.0, 1.0, Read),
    aws!("sqs", "DeleteMessage", "POST", "/queues/{name}", 200.0, 0.1, Delete),
    aws!("sqs", "ChangeMessageVisibility", "POST", "/queues/{name}", 200.0, 0.1, Write),
    aws!("sqs", "GetQueueAttributes", "POST", "/queues/{name}", 600.0, 0.3, Read),
    aws!("sqs", "ListQueues", "POST", "/", 900.0, 0.5, List),
    aws!("sns", "Publish", "POST", "/topics/{name}", 300.0, 0.1, Write),
    aws!("sns", "ListTopics", "POST", "/", 1800.0, 0.5, List),
    aws!("lambda", "Invoke", "POST", "/functions/{name}/invocations", 1500.0, 1.2, Write),
    aws!("lambda", "ListFunctions", "GET", "/functions", 30000.0, 0.8, List),
    aws!("lambda", "GetFunction", "GET", "/functions/{name}", 3500.0, 0.4, Read),
    aws!("lambda", "UpdateFunctionCode", "PUT", "/functions/{name}/code", 1800.0, 0.2, Write),
    aws!("lambda", "UpdateFunctionConfiguration", "PUT", "/functions/{name}/configuration", 1800.0, 0.2, Write),
    aws!("secretsmanager", "GetSecretValue", "POST", "/secrets/{name}", 900.0, 0.3, Read),
    aws!("secretsmanager", "ListSecrets", "POST", "/", 8000.0, 0.8, List),
    aws!("secretsmanager", "DescribeSecret", "POST", "/secrets/{name}", 700.0, 0.3, Read),
    aws!("kms", "Decrypt", "POST", "/keys/{id}", 300.0, 0.1, Read),
    aws!("kms", "GenerateDataKey", "POST", "/keys/{id}", 420.0, 0.1, Read),
    aws!("kms", "ListKeys", "POST", "/", 2500.0, 0.5, List),
    aws!("ssm", "GetParameter", "POST", "/parameters/{name}", 500.0, 0.3, Read),
    aws!("ssm", "GetParametersByPath", "POST", "/parameters/{name}", 4000.0, 0.8, Read),
    aws!("ssm", "DescribeParameters", "POST", "/", 9000.0, 0.7, List),
    aws!("ecr", "GetAuthorizationToken", "POST", "/", 2200.0, 0.05, Auth),
    aws!("ecr", "BatchCheckLayerAvailability", "POST", "/repositories/{name}", 600.0, 0.3, Read),
    aws!("ecr", "InitiateLayerUpload", "POST", "/repositories/{name}", 300.0, 0.1, Write),
    aws!("ecr", "UploadLayerPart", "POST", "/repositories/{name}", 220.0, 0.1, Write),
    aws!("ecr", "CompleteLayerUpload", "POST", "/repositories/{name}", 300.0, 0.1, Write),
    aws!("ecr", "PutImage", "POST", "/repositories/{name}", 1800.0, 0.2, Write),
    aws!("ecr", "BatchGetImage", "POST", "/repositories/{name}", 4000.0, 0.5, Read),
    aws!("ecr", "DescribeImages", "POST", "/repositories/{name}", 9000.0, 0.8, List),
    aws!("ecr", "DescribeRepositories", "POST", "/", 5000.0, 0.6, List),
    aws!("ecs", "DescribeServices", "POST", "/clusters/{name}", 6000.0, 0.5, Read),
    aws!("ecs", "UpdateService", "POST", "/clusters/{name}", 7000.0, 0.3, Write),
    aws!("ecs", "RegisterTaskDefinition", "POST", "/", 4000.0, 0.3, Write),
    aws!("ecs", "DescribeTasks", "POST", "/clusters/{name}", 5000.0, 0.6, Read),
    aws!("ecs", "ListClusters", "POST", "/", 500.0, 0.4, List),
    aws!("ecs", "ListServices", "POST", "/clusters/{name}", 900.0, 0.5, List),
    aws!("cloudformation", "DescribeStacks", "POST", "/stacks/{name}", 5000.0, 0.6, Read),
    aws!("cloudformation", "CreateChangeSet", "POST", "/stacks/{name}", 300.0, 0.1, Write),
    aws!("cloudformation", "DescribeChangeSet", "POST", "/stacks/{name}", 6000.0, 0.6, Read),
    aws!("cloudformation", "ExecuteChangeSet", "POST", "/stacks/{name}", 200.0, 0.1, Write),
    aws!("cloudformation", "DescribeStackEvents", "POST", "/stacks/{name}", 20000.0, 0.8, Read),
    aws!("logs", "PutLogEvents", "POST", "/log-groups/{name}", 80.0, 0.2, Write),
    aws!("logs", "CreateLogStream", "POST", "/log-groups/{name}", 60.0, 0.1, Write),
    aws!("logs", "DescribeLogGroups", "POST", "/", 10000.0, 0.7, List),
    aws!("logs", "FilterLogEvents", "POST", "/log-groups/{name}", 50000.0, 1.2, Read),
    aws!("rds", "DescribeDBInstances", "POST", "/", 14000.0, 0.7, List),
    aws!("rds", "DescribeDBSnapshots", "POST", "/", 9000.0, 0.8, List),
    aws!("organizations", "ListAccounts", "POST", "/", 6000.0, 0.5, List),
    aws!("organizations", "DescribeOrganization", "POST", "/", 700.0, 0.1, Read),
    aws!("cloudtrail", "DescribeTrails", "POST", "/", 1500.0, 0.4, List),
    aws!("cloudtrail", "LookupEvents", "POST", "/", 70000.0, 0.9, Read),
    aws!("guardduty", "ListDetectors", "GET", "/detector", 200.0, 0.1, List),
    aws!("eks", "ListClusters", "GET", "/clusters", 400.0, 0.3, List),
    aws!("eks", "DescribeCluster", "GET", "/clusters/{name}", 3500.0, 0.3, Read),
    aws!("route53", "ListHostedZones", "GET", "/2013-04-01/hostedzone", 2500.0, 0.6, List),
    aws!("cloudfront", "CreateInvalidation", "POST", "/2020-05-31/distribution/{name}/invalidation", 600.0, 0.1, Write),
    rest!("orders-api", "GET", "/v1/orders/{id}", 3500.0, 0.6, Read),
    rest!("orders-api", "GET", "/v1/orders", 28000.0, 0.8, List),
    rest!("orders-api", "POST", "/v1/orders", 1800.0, 0.3, Write),
    rest!("orders-api", "PATCH", "/v1/orders/{id}", 1500.0, 0.3, Write),
    rest!("orders-api", "GET", "/v1/orders/{id}/items", 6000.0, 0.7, Read),
    rest!("orders-api", "POST", "/v1/orders/{id}/cancel", 900.0, 0.2, Write),
    rest!("orders-api", "DELETE", "/v1/orders/{id}", 0.0, 0.0, Delete),
    rest!("orders-api", "GET", "/v1/orders/{id}/tracking", 1200.0, 0.4, Read),
    rest!("billing-api", "GET", "/v1/invoices/{id}", 4000.0, 0.5, Read),
    rest!("billing-api", "GET", "/v1/invoices", 35000.0, 0.8, List),
    rest!("billing-api", "POST", "/v1/invoices", 2000.0, 0.3, Write),
    rest!("billing-api", "POST", "/v1/payments", 900.0, 0.2, Write),
    rest!("billing-api", "GET", "/v1/payments/{id}", 1100.0, 0.3, Read),
    rest!("billing-api", "GET", "/v1/customers/{id}/balance", 600.0, 0.2, Read),
    rest!("customers-api", "GET", "/v1/customers/{id}", 2500.0, 0.5, Read),
    rest!("customers-api", "GET", "/v1/customers", 80000.0, 0.7, List),
    rest!("customers-api", "PATCH", "/v1/customers/{id}", 1800.0, 0.3, Write),
    rest!("catalog-api", "GET", "/v1/products/{id}", 5000.0, 0.6, Read),
    rest!("catalog-api", "GET", "/v1/products", 60000.0, 0.7, List),
    rest!("catalog-api", "GET", "/v1/categories", 9000.0, 0.3, List),
    rest!("catalog-api", "PUT", "/v1/products/{id}", 1200.0, 0.3, Write),
    rest!("catalog-api", "GET", "/v1/products/{id}/availability", 400.0, 0.3, Read),
    rest!("inventory-api", "GET", "/v1/stock/{id}", 500.0, 0.3, Read),
    rest!("inventory-api", "POST", "/v1/stock/reservations", 700.0, 0.2, Write),
    rest!("inventory-api", "DELETE", "/v1/stock/reservations/{id}", 0.0, 0.0, Delete),
    rest!("inventory-api", "GET", "/v1/warehouses", 3000.0, 0.4, List),
    rest!("shipping-api", "POST", "/v1/shipments", 2500.0, 0.3, Write),
    rest!("shipping-api", "GET", "/v1/shipments/{id}", 3000.0, 0.5, Read),
    rest!("shipping-api", "GET", "/v1/shipments/{id}/label", 85000.0, 0.4, Read),
    rest!("shipping-api", "POST", "/v1/rates/quote", 1800.0, 0.4, Read),
    rest!("users-api", "GET", "/v1/users/{id}", 1800.0, 0.4, Read),
    rest!("users-api", "GET", "/v1/users", 45000.0, 0.8, List),
    rest!("users-api", "PATCH", "/v1/users/{id}", 1500.0, 0.3, Write),
    rest!("users-api", "GET", "/v1/me", 900.0, 0.2, Read),
    rest!("users-api", "PUT", "/v1/users/{id}/permissions", 700.0, 0.1, Sensitive),
    rest!("search-api", "GET", "/v1/search", 25000.0, 1.0, Read),
    rest!("search-api", "POST", "/v1/index/documents", 300.0, 0.2, Write),
    rest!("notifications-api", "POST", "/v1/notifications", 400.0, 0.2, Write),
    rest!("notifications-api", "POST", "/v1/emails", 450.0, 0.2, Write),
    rest!("reports-api", "GET", "/v1/reports/{id}", 150_000.0, 1.2, Read),
    rest!("reports-api", "POST", "/v1/reports", 600.0, 0.2, Write),
    rest!("reports-api", "POST", "/v1/exports", 500.0, 0.2, Write),
    rest!("reports-api", "GET", "/v1/exports/{id}", 2_000_000.0, 1.0, Read),
    rest!("admin-api", "GET", "/admin/users", 50000.0, 0.7, List),
    rest!("admin-api", "GET", "/admin/settings", 5000.0, 0.3, Read),
    rest!("admin-api", "GET", "/admin/audit-log", 90000.0, 0.8, List),
    rest!("admin-api", "POST", "/admin/roles", 800.0, 0.1, Sensitive),
    rest!("admin-api", "POST", "/admin/api-keys", 600.0, 0.1, Sensitive),
    rest!("platform-api", "GET", "/v1/flags", 2500.0, 0.3, Read),
    rest!("platform-api", "POST", "/v1/audit-events", 120.0, 0.2, Write),
    rest!("platform-api", "GET", "/v1/health/deep", 700.0, 0.2, Read),
    rest!("mobile-bff", "GET", "/v2/feed", 42000.0, 0.6, Read),
    rest!("mobile-bff", "GET", "/v2/products/{id}", 9000.0, 0.5, Read),
    rest!("mobile-bff", "GET", "/v2/products/{id}/reviews", 16000.0, 0.7, Read),
    rest!("mobile-bff", "GET", "/v2/search", 22000.0, 0.8, Read),
    rest!("mobile-bff", "GET", "/v2/cart", 3000.0, 0.5, Read),
    rest!("mobile-bff", "POST", "/v2/cart/items", 2500.0, 0.3, Write),
    rest!("mobile-bff", "DELETE", "/v2/cart/items/{id}", 2000.0, 0.3, Delete),
    rest!("mobile-bff", "POST", "/v2/checkout", 3500.0, 0.3, Write),
    rest!("mobile-bff", "GET", "/v2/orders", 12000.0, 0.6, List),
    rest!("mobile-bff", "GET", "/v2/orders/{id}", 5000.0, 0.4, Read),
    rest!("mobile-bff", "POST", "/v2/events", 60.0, 0.3, Write),
    rest!("mobile-bff", "GET", "/v2/me", 1500.0, 0.2, Read),
    rest!("mobile-bff", "PUT", "/v2/me/push-token", 100.0, 0.1, Write),
    rest!("mobile-bff", "GET", "/v2/config", 4000.0, 0.2, Read),
    rest!("mobile-bff", "GET", "/v2/home/widgets", 18000.0, 0.5, Read),
    rest!("mobile-bff", "GET", "/v2/recommendations", 14000.0, 0.6, Read),
    rest!("mobile-bff", "POST", "/v2/telemetry", 80.0, 0.2, Write),
];

/// Index of an operation in [`OPS`].
pub type OpId = u16;

fn index() -> &'static HashMap<String, OpId> {
    static INDEX: OnceLock<HashMap<String, OpId>> = OnceLock::new();
    INDEX.get_or_init(|| {
        OPS.iter()
            .enumerate()
            .map(|(i, op)| (format!("{}:{}", op.service.trim_end_matches(".amazonaws.com"), op.operation), i as OpId))
            .collect()
    })
}

/// Looks an operation up by `service-short:operation` (`s3:GetObject`,
/// `orders-api:GET /v1/orders/{id}`); panics on an unknown key (tables are static).
pub fn op_id(key: &str) -> OpId {
    *index().get(key).unwrap_or_else(|| panic!("unknown operation {key}"))
}

/// Resolves a list of keys.
pub(crate) fn op_ids(keys: &[&str]) -> Vec<OpId> {
    keys.iter().map(|k| op_id(k)).collect()
}

/// The operation with this id.
pub fn op(id: OpId) -> &'static Op {
    &OPS[usize::from(id)]
}

mod agents;
mod families;

pub(crate) use agents::*;
pub(crate) use families::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() {
        let fams = AWS_SERVICE_FAMILIES
            .iter()
            .chain(REST_SERVICE_FAMILIES)
            .chain(HUMAN_AWS_FAMILIES)
            .chain(HUMAN_REST_FAMILIES)
            .chain(PARTNER_FAMILIES);
        for f in fams {
            assert!(!f.name.is_empty());
            op_ids(f.ops);
        }
        for list in [
            MOBILE_OPS,
            MOBILE_NEW_OPS,
            REST_NEW_OPS,
            AWS_RECON,
            REST_RECON,
            AWS_PRIVESC,
            REST_PRIVESC,
            AWS_EXFIL,
            REST_EXFIL,
        ] {
            op_ids(list);
        }
        for p in PIPELINES {
            for s in p.steps {
                op_id(s.op);
            }
        }
        let unique: std::collections::HashSet<_> = OPS.iter().map(|o| (o.service, o.operation)).collect();
        assert_eq!(unique.len(), OPS.len());
    }
}
