//! The fake records whether a request body came chunked or with `Content-Length`.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{start, MANAGED_VISIBLE};

#[tokio::test]
async fn records_chunked_and_content_length_bodies() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;

    let body = format!("{{\"accountIds\": [\"{MANAGED_VISIBLE}\"]}}");
    let basic = {
        use base64::Engine as _;
        let c = &ctx.creds;
        base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", c.site_email, c.site_api_token))
    };
    let request = format!(
        "POST /wiki/api/v2/users-bulk HTTP/1.1\r\nHost: {}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        ctx.fake.addr(),
        body.len()
    );
    let mut stream = TcpStream::connect(ctx.fake.addr()).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let chunked: Vec<bool> = ctx.fake.requests().iter().map(|r| r.chunked).collect();
    assert_eq!(chunked, [false, true]);
    Ok(())
}
