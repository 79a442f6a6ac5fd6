//! User agents of ordinary clients and of attackers' tools.

pub(crate) static SDK_UAS: &[&str] = &[
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.0",
    "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#5.10.210-201.852.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.51",
    "aws-sdk-java/2.25.6 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "aws-sdk-nodejs/2.1563.0 linux/v18.19.0 exec-env/AWS_ECS_FARGATE",
    "aws-sdk-js/3.525.0 ua/2.0 os/linux#5.10.209-198.858.amzn2.x86_64 lang/js md/nodejs#20.11.1 api/dynamodb#3.525.0",
    "aws-sdk-rust/1.1.7 os/linux lang/rust/1.76.0",
    "Boto3/1.28.85 md/Botocore#1.31.85 ua/2.0 os/linux#4.14.336-257.562.amzn2.x86_64 md/arch#x86_64 lang/python#3.9.18 md/pyimpl#CPython exec-env/AWS_Lambda_python3.9 cfg/retry-mode#legacy Botocore/1.31.85",
];

pub(crate) static SERVICE_REST_UAS: &[&str] = &[
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "python-httpx/0.27.0",
    "axios/1.6.7",
    "Apache-HttpClient/5.2.1 (Java/17.0.10)",
    "ReactorNetty/1.1.16",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
];

pub(crate) static HUMAN_AWS_UAS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0 exe/x86_64 prompt/off",
    "aws-cli/2.15.19 Python/3.11.6 Linux/6.5.0-21-generic exe/x86_64.ubuntu.22 prompt/off",
    "aws-cli/2.15.25 Python/3.11.8 Darwin/23.4.0 exe/arm64 prompt/off",
    "aws-cli/2.13.12 Python/3.11.4 Windows/10 exe/AMD64 prompt/off",
    "Boto3/1.34.40 md/Botocore#1.34.40 ua/2.0 os/macos#23.3.0 md/arch#arm64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.40",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.39.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 ua/2.0 os/macos lang/go#1.21.8 md/GOOS#darwin md/GOARCH#arm64",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
];

pub(crate) static HUMAN_REST_UAS: &[&str] = &[
    "PostmanRuntime/7.36.3",
    "curl/8.4.0",
    "HTTPie/3.2.2",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
    "insomnia/8.6.1",
];

pub(crate) static CI_UAS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-azure exe/x86_64.ubuntu.22 prompt/off",
    "aws-sdk-nodejs/2.1563.0 linux/v20.11.1 exec-env/GitHubActions",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.39.1 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 ua/2.0 os/linux lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64",
    "aws-cli/2.15.17 Python/3.11.6 Linux/5.15.0-1056-aws exe/x86_64.ubuntu.22 prompt/off",
];

pub(crate) static DOCKER_UA: &str = "docker/24.0.9 go/go1.20.13 git-commit/fca702d kernel/6.5.0-1016-azure os/linux arch/amd64 UpstreamClient(Docker-Client/24.0.9 \\(linux\\))";

pub(crate) static PARTNER_UAS: &[&str] = &[
    "Apache-HttpClient/4.5.14 (Java/11.0.22)",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
    "Go-http-client/1.1",
    "GuzzleHttp/7 curl/7.81.0 PHP/8.2.16",
    "Ruby",
    "Microsoft.Net.Http/8.0",
];

/// Mobile user agents as (before, after) an app release: installs update over the stream.
pub(crate) static MOBILE_UAS: &[(&str, &str)] = &[
    (
        "ShopApp/5.12.1 (com.acme.shop; build:51201; iOS 17.3.1) Alamofire/5.8.1",
        "ShopApp/5.13.0 (com.acme.shop; build:51300; iOS 17.3.1) Alamofire/5.8.1",
    ),
    (
        "ShopApp/5.12.1 (com.acme.shop; build:51201; iOS 17.2.1) Alamofire/5.8.1",
        "ShopApp/5.13.0 (com.acme.shop; build:51300; iOS 17.4) Alamofire/5.8.1",
    ),
    (
        "ShopApp-Android/5.12.0 (Android 14; Pixel 8) okhttp/4.12.0",
        "ShopApp-Android/5.13.0 (Android 14; Pixel 8) okhttp/4.12.0",
    ),
    (
        "ShopApp-Android/5.12.0 (Android 13; SM-S911B) okhttp/4.12.0",
        "ShopApp-Android/5.13.0 (Android 14; SM-S911B) okhttp/4.12.0",
    ),
    (
        "ShopApp-Android/5.11.4 (Android 12; Redmi Note 11) okhttp/4.11.0",
        "ShopApp-Android/5.11.4 (Android 12; Redmi Note 11) okhttp/4.11.0",
    ),
];

/// Tools a thief uses with a stolen AWS key: SDKs and CLIs on unusual hosts.
pub(crate) static ATTACKER_AWS_UAS: &[&str] = &[
    "Boto3/1.34.40 md/Botocore#1.34.40 ua/2.0 os/linux#6.6.9-amd64 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.40",
    "aws-cli/2.13.25 Python/3.11.5 Linux/6.5.0-kali3-amd64 source/x86_64.kali.2023 prompt/off",
    "Boto3/1.26.137 Python/3.10.12 Linux/5.15.0-91-generic Botocore/1.29.137",
    "aws-cli/1.29.62 Python/3.11.4 Linux/6.1.0-kali9-amd64 botocore/1.31.62",
    "aws-sdk-go/1.50.21 (go1.21.6; linux; amd64)",
    "Boto3/1.34.11 md/Botocore#1.34.11 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.12.1 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.11",
];

/// Tools a thief uses with a stolen gateway key.
pub(crate) static ATTACKER_REST_UAS: &[&str] = &[
    "python-requests/2.31.0",
    "curl/7.88.1",
    "Go-http-client/1.1",
    "python-httpx/0.25.2",
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "Wget/1.21.3",
];

/// Bulk-transfer tools.
pub(crate) static EXFIL_UAS: &[&str] = &[
    "rclone/v1.65.2",
    "aws-cli/2.15.10 Python/3.11.6 Linux/6.5.0-kali3-amd64 source/x86_64.kali.2023 prompt/off command/s3.sync",
    "python-requests/2.31.0",
];
