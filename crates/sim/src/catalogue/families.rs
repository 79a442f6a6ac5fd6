//! Operation families, CI pipelines and the call lists incidents draw from.

/// A pool of operations a kind of credential draws from.
#[derive(Debug)]
pub(crate) struct Family {
    pub name: &'static str,
    pub ops: &'static [&'static str],
}

/// AWS workloads running under a role or a service user.
pub(crate) static AWS_SERVICE_FAMILIES: &[Family] = &[
    Family {
        name: "etl",
        ops: &[
            "s3:GetObject",
            "s3:PutObject",
            "s3:ListObjectsV2",
            "s3:HeadObject",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "s3:DeleteObject",
        ],
    },
    Family {
        name: "queue-worker",
        ops: &[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "sqs:SendMessage",
            "dynamodb:UpdateItem",
            "sqs:ChangeMessageVisibility",
            "dynamodb:Query",
        ],
    },
    Family {
        name: "api-backend",
        ops: &[
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "kms:Decrypt",
            "dynamodb:UpdateItem",
            "secretsmanager:GetSecretValue",
            "sns:Publish",
            "dynamodb:BatchWriteItem",
        ],
    },
    Family { name: "log-shipper", ops: &["logs:PutLogEvents", "logs:CreateLogStream", "s3:PutObject"] },
    Family {
        name: "orchestrator",
        ops: &["lambda:Invoke", "sqs:SendMessage", "ssm:GetParameter", "lambda:GetFunction", "sqs:GetQueueAttributes"],
    },
    Family {
        name: "inventory-collector",
        ops: &[
            "ec2:DescribeInstances",
            "ec2:DescribeVolumes",
            "ec2:DescribeSecurityGroups",
            "rds:DescribeDBInstances",
            "s3:ListBuckets",
            "s3:GetBucketPolicy",
            "iam:ListRoles",
            "ec2:DescribeSnapshots",
            "lambda:ListFunctions",
        ],
    },
];

/// Internal services calling the API gateway with API keys.
pub(crate) static REST_SERVICE_FAMILIES: &[Family] = &[
    Family {
        name: "checkout",
        ops: &[
            "orders-api:POST /v1/orders",
            "inventory-api:POST /v1/stock/reservations",
            "billing-api:POST /v1/payments",
            "orders-api:GET /v1/orders/{id}",
            "notifications-api:POST /v1/emails",
            "inventory-api:DELETE /v1/stock/reservations/{id}",
            "customers-api:GET /v1/customers/{id}",
        ],
    },
    Family {
        name: "fulfillment",
        ops: &[
            "orders-api:GET /v1/orders",
            "shipping-api:POST /v1/shipments",
            "orders-api:PATCH /v1/orders/{id}",
            "inventory-api:GET /v1/stock/{id}",
            "shipping-api:GET /v1/shipments/{id}",
            "notifications-api:POST /v1/notifications",
        ],
    },
    Family {
        name: "catalog-sync",
        ops: &[
            "catalog-api:PUT /v1/products/{id}",
            "catalog-api:GET /v1/products/{id}",
            "search-api:POST /v1/index/documents",
            "catalog-api:GET /v1/categories",
            "catalog-api:GET /v1/products/{id}/availability",
        ],
    },
    Family {
        name: "billing",
        ops: &[
            "billing-api:GET /v1/invoices/{id}",
            "billing-api:POST /v1/invoices",
            "customers-api:GET /v1/customers/{id}",
            "billing-api:GET /v1/payments/{id}",
            "billing-api:GET /v1/customers/{id}/balance",
        ],
    },
    Family {
        name: "reporting",
        ops: &[
            "reports-api:POST /v1/reports",
            "reports-api:GET /v1/reports/{id}",
            "orders-api:GET /v1/orders",
            "billing-api:GET /v1/invoices",
            "customers-api:GET /v1/customers/{id}",
        ],
    },
];

/// Engineers, analysts and platform admins with CLI access keys.
pub(crate) static HUMAN_AWS_FAMILIES: &[Family] = &[
    Family {
        name: "engineering",
        ops: &[
            "sts:GetCallerIdentity",
            "logs:FilterLogEvents",
            "ecs:DescribeServices",
            "lambda:GetFunction",
            "s3:ListObjectsV2",
            "dynamodb:Query",
            "ec2:DescribeInstances",
            "logs:DescribeLogGroups",
            "s3:GetObject",
            "cloudformation:DescribeStacks",
            "lambda:ListFunctions",
            "ssm:GetParameter",
            "ecr:DescribeImages",
            "dynamodb:DescribeTable",
            "s3:ListBuckets",
            "cloudformation:DescribeStackEvents",
            "lambda:Invoke",
            "ecs:DescribeTasks",
            "sqs:GetQueueAttributes",
            "s3:PutObject",
        ],
    },
    Family {
        name: "data",
        ops: &[
            "s3:ListObjectsV2",
            "s3:GetObject",
            "s3:ListBuckets",
            "s3:PutObject",
            "sts:GetCallerIdentity",
            "dynamodb:Scan",
            "dynamodb:DescribeTable",
            "s3:HeadObject",
            "dynamodb:Query",
            "logs:FilterLogEvents",
            "dynamodb:ListTables",
        ],
    },
    Family {
        name: "platform",
        ops: &[
            "sts:GetCallerIdentity",
            "ec2:DescribeInstances",
            "iam:GetRole",
            "iam:ListRoles",
            "ec2:DescribeSecurityGroups",
            "cloudformation:DescribeStacks",
            "eks:DescribeCluster",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
            "iam:ListAttachedRolePolicies",
            "rds:DescribeDBInstances",
            "route53:ListHostedZones",
            "logs:FilterLogEvents",
            "s3:ListBuckets",
            "eks:ListClusters",
            "ssm:GetParametersByPath",
        ],
    },
];

/// Support staff and developers with personal access tokens on the gateway.
pub(crate) static HUMAN_REST_FAMILIES: &[Family] = &[
    Family {
        name: "support",
        ops: &[
            "customers-api:GET /v1/customers/{id}",
            "orders-api:GET /v1/orders/{id}",
            "users-api:GET /v1/users/{id}",
            "orders-api:GET /v1/orders/{id}/items",
            "search-api:GET /v1/search",
            "billing-api:GET /v1/invoices/{id}",
            "orders-api:POST /v1/orders/{id}/cancel",
            "users-api:GET /v1/me",
            "shipping-api:GET /v1/shipments/{id}",
            "customers-api:PATCH /v1/customers/{id}",
        ],
    },
    Family {
        name: "developer",
        ops: &[
            "users-api:GET /v1/me",
            "orders-api:GET /v1/orders",
            "catalog-api:GET /v1/products/{id}",
            "orders-api:GET /v1/orders/{id}",
            "search-api:GET /v1/search",
            "reports-api:GET /v1/reports/{id}",
            "catalog-api:GET /v1/products",
            "inventory-api:GET /v1/warehouses",
        ],
    },
];

/// B2B partner integrations.
pub(crate) static PARTNER_FAMILIES: &[Family] = &[
    Family {
        name: "logistics",
        ops: &[
            "orders-api:GET /v1/orders",
            "orders-api:GET /v1/orders/{id}",
            "shipping-api:POST /v1/shipments",
            "shipping-api:GET /v1/shipments/{id}/label",
            "shipping-api:POST /v1/rates/quote",
            "orders-api:PATCH /v1/orders/{id}",
            "shipping-api:GET /v1/shipments/{id}",
        ],
    },
    Family {
        name: "marketplace",
        ops: &[
            "catalog-api:GET /v1/products",
            "catalog-api:GET /v1/products/{id}/availability",
            "inventory-api:GET /v1/stock/{id}",
            "orders-api:POST /v1/orders",
            "catalog-api:GET /v1/products/{id}",
            "orders-api:GET /v1/orders/{id}",
        ],
    },
    Family {
        name: "payments",
        ops: &[
            "billing-api:POST /v1/payments",
            "billing-api:GET /v1/payments/{id}",
            "billing-api:GET /v1/invoices/{id}",
            "billing-api:GET /v1/customers/{id}/balance",
        ],
    },
];

/// The shopping app's backend-for-frontend, in rough order of popularity.
pub(crate) static MOBILE_OPS: &[&str] = &[
    "mobile-bff:POST /v2/events",
    "mobile-bff:GET /v2/feed",
    "mobile-bff:GET /v2/products/{id}",
    "mobile-bff:GET /v2/config",
    "mobile-bff:GET /v2/search",
    "mobile-bff:GET /v2/cart",
    "mobile-bff:GET /v2/products/{id}/reviews",
    "mobile-bff:POST /v2/cart/items",
    "mobile-bff:GET /v2/me",
    "mobile-bff:GET /v2/orders",
    "mobile-bff:GET /v2/orders/{id}",
    "mobile-bff:DELETE /v2/cart/items/{id}",
    "mobile-bff:POST /v2/checkout",
    "mobile-bff:PUT /v2/me/push-token",
];

/// Operations a feature-flag rollout can switch on for every app install (`new_endpoint_for_all`).
pub(crate) static MOBILE_NEW_OPS: &[&str] =
    &["mobile-bff:GET /v2/home/widgets", "mobile-bff:GET /v2/recommendations", "mobile-bff:POST /v2/telemetry"];

/// Operations a shared client-library release makes every gateway service call.
pub(crate) static REST_NEW_OPS: &[&str] =
    &["platform-api:GET /v1/flags", "platform-api:POST /v1/audit-events", "platform-api:GET /v1/health/deep"];

/// One step of a CI pipeline: operation, repeat range, spacing between repeats in ms, and whether
/// the step runs under the container tool's user agent.
#[derive(Debug)]
pub(crate) struct Step {
    pub op: &'static str,
    pub reps: (u8, u8),
    pub gap_ms: u32,
    pub docker: bool,
}

const fn step(op: &'static str, lo: u8, hi: u8, gap_ms: u32, docker: bool) -> Step {
    Step { op, reps: (lo, hi), gap_ms, docker }
}

/// A CI pipeline: the ordered calls one job makes.
#[derive(Debug)]
pub(crate) struct Pipeline {
    pub name: &'static str,
    pub steps: &'static [Step],
}

pub(crate) static PIPELINES: &[Pipeline] = &[
    Pipeline {
        name: "container-deploy",
        steps: &[
            step("sts:GetCallerIdentity", 1, 1, 1500, false),
            step("ecr:GetAuthorizationToken", 1, 1, 2000, false),
            step("ecr:BatchCheckLayerAvailability", 1, 3, 800, true),
            step("ecr:InitiateLayerUpload", 1, 4, 1500, true),
            step("ecr:UploadLayerPart", 2, 12, 2500, true),
            step("ecr:CompleteLayerUpload", 1, 4, 900, true),
            step("ecr:PutImage", 1, 1, 1500, true),
            step("ecs:RegisterTaskDefinition", 1, 1, 2000, false),
            step("ecs:UpdateService", 1, 1, 3000, false),
            step("ecs:DescribeServices", 3, 20, 15000, false),
        ],
    },
    Pipeline {
        name: "lambda-deploy",
        steps: &[
            step("sts:GetCallerIdentity", 1, 1, 1500, false),
            step("s3:PutObject", 1, 3, 4000, false),
            step("lambda:UpdateFunctionCode", 1, 3, 3000, false),
            step("lambda:GetFunction", 2, 8, 5000, false),
            step("lambda:UpdateFunctionConfiguration", 0, 1, 3000, false),
        ],
    },
    Pipeline {
        name: "cfn-deploy",
        steps: &[
            step("sts:GetCallerIdentity", 1, 1, 1500, false),
            step("s3:PutObject", 1, 2, 3000, false),
            step("cloudformation:CreateChangeSet", 1, 1, 3000, false),
            step("cloudformation:DescribeChangeSet", 2, 6, 5000, false),
            step("cloudformation:ExecuteChangeSet", 1, 1, 2000, false),
            step("cloudformation:DescribeStacks", 4, 25, 10000, false),
            step("cloudformation:DescribeStackEvents", 2, 10, 10000, false),
        ],
    },
    Pipeline {
        name: "static-site",
        steps: &[
            step("s3:ListObjectsV2", 1, 3, 1500, false),
            step("s3:PutObject", 5, 40, 700, false),
            step("s3:DeleteObject", 0, 6, 600, false),
            step("cloudfront:CreateInvalidation", 1, 1, 2000, false),
        ],
    },
];

/// Broad AWS reconnaissance calls (enumeration, denial probing, a thief's first look around).
pub(crate) static AWS_RECON: &[&str] = &[
    "sts:GetCallerIdentity",
    "iam:ListUsers",
    "iam:ListRoles",
    "iam:ListPolicies",
    "iam:GetAccountAuthorizationDetails",
    "s3:ListBuckets",
    "ec2:DescribeInstances",
    "ec2:DescribeRegions",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
    "secretsmanager:ListSecrets",
    "lambda:ListFunctions",
    "rds:DescribeDBInstances",
    "organizations:ListAccounts",
    "cloudtrail:DescribeTrails",
    "guardduty:ListDetectors",
    "iam:ListAccessKeys",
    "iam:ListAttachedUserPolicies",
    "iam:GetUser",
    "ssm:DescribeParameters",
    "dynamodb:ListTables",
    "sqs:ListQueues",
    "eks:ListClusters",
    "ecr:DescribeRepositories",
    "kms:ListKeys",
    "logs:DescribeLogGroups",
    "ec2:DescribeSnapshots",
    "ec2:DescribeImages",
    "ec2:DescribeVolumes",
    "ec2:DescribeKeyPairs",
    "ec2:DescribeSubnets",
    "ec2:DescribeAddresses",
    "route53:ListHostedZones",
    "sns:ListTopics",
    "iam:ListGroups",
    "organizations:DescribeOrganization",
    "cloudformation:DescribeStacks",
    "ecs:ListClusters",
    "rds:DescribeDBSnapshots",
    "iam:GetRole",
    "iam:ListAttachedRolePolicies",
    "iam:ListUserPolicies",
    "s3:GetBucketPolicy",
    "s3:GetBucketAcl",
    "lambda:GetFunction",
    "secretsmanager:DescribeSecret",
    "eks:DescribeCluster",
    "ecs:ListServices",
    "cloudtrail:LookupEvents",
    "ssm:GetParametersByPath",
];

/// Broad REST reconnaissance: list endpoints and admin routes across the gateway.
pub(crate) static REST_RECON: &[&str] = &[
    "users-api:GET /v1/me",
    "users-api:GET /v1/users",
    "orders-api:GET /v1/orders",
    "billing-api:GET /v1/invoices",
    "customers-api:GET /v1/customers",
    "admin-api:GET /admin/users",
    "admin-api:GET /admin/settings",
    "admin-api:GET /admin/audit-log",
    "catalog-api:GET /v1/products",
    "inventory-api:GET /v1/warehouses",
    "reports-api:GET /v1/reports/{id}",
    "billing-api:GET /v1/payments/{id}",
    "shipping-api:GET /v1/shipments/{id}",
    "catalog-api:GET /v1/categories",
    "orders-api:DELETE /v1/orders/{id}",
    "admin-api:POST /admin/api-keys",
    "admin-api:POST /admin/roles",
    "users-api:PUT /v1/users/{id}/permissions",
    "reports-api:GET /v1/exports/{id}",
    "customers-api:GET /v1/customers/{id}",
    "users-api:PATCH /v1/users/{id}",
    "search-api:GET /v1/search",
    "users-api:GET /v1/users/{id}",
    "billing-api:GET /v1/customers/{id}/balance",
    "reports-api:POST /v1/exports",
    "platform-api:GET /v1/flags",
    "catalog-api:PUT /v1/products/{id}",
    "customers-api:PATCH /v1/customers/{id}",
];

/// IAM privilege-escalation calls.
pub(crate) static AWS_PRIVESC: &[&str] = &[
    "iam:CreateAccessKey",
    "iam:AttachUserPolicy",
    "iam:PutRolePolicy",
    "iam:CreateLoginProfile",
    "iam:UpdateAssumeRolePolicy",
    "iam:CreateUser",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:CreatePolicyVersion",
];

/// Gateway privilege-escalation routes.
pub(crate) static REST_PRIVESC: &[&str] =
    &["admin-api:POST /admin/roles", "users-api:PUT /v1/users/{id}/permissions", "admin-api:POST /admin/api-keys"];

/// Bulk-read operations for exfiltration.
pub(crate) static AWS_EXFIL: &[&str] =
    &["s3:GetObject", "s3:GetObject", "s3:GetObject", "s3:ListObjectsV2", "dynamodb:Scan"];
pub(crate) static REST_EXFIL: &[&str] = &[
    "reports-api:GET /v1/exports/{id}",
    "customers-api:GET /v1/customers",
    "orders-api:GET /v1/orders",
    "users-api:GET /v1/users",
];
