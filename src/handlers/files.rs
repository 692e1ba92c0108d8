//! `POST /api/v1/chats/{chatId}/files` (an upload, streamed into R2) and `GET /api/v1/files/{fileId}`
//! (a download, streamed from R2 by the runtime). A media message carries a file by its id (`media.fileId`
//! on a send); deleting the message removes the file, and the daily job deletes its bytes
//! (`crate::scheduled`).

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use worker::{Data, FixedLengthStream, HttpMetadata, Request};

use crate::auth::Credential;
use crate::context::Ctx;
use crate::domain::files::{
    byte_range, check_signature, content_type, disposition, file_name, upload_size, DownloadParams,
    UploadParams,
};
use crate::domain::ids::{ChatId, FileId};
use crate::error::{ApiError, Result};
use crate::http::{header, query, Reply};
use crate::store::files::{self, FileRow};
use crate::views;

/// Two round trips (the chat's reach, then the record) around the R2 upload. The bytes stream through
/// the worker once, chunk by chunk, into R2 (which takes exactly `Content-Length` of them) while their
/// SHA-256 is computed: a 25 MiB upload is never held whole. A body shorter than it said leaves
/// nothing stored.
pub async fn upload(
    req: &mut Request,
    ctx: &Ctx,
    who: &Credential,
    chat_id: &ChatId,
) -> Result<Reply> {
    ctx.config.file_signing_key()?;
    let params: UploadParams = query(req)?;
    let name = file_name(params.name.as_deref())?;
    let size = upload_size(header(req, "Content-Length").as_deref())?;
    let content_type = content_type(header(req, "Content-Type").as_deref());
    let author = files::upload_reach(&ctx.db, who, chat_id).await?;
    let id = FileId::generate(ctx.now_ms)?;
    let hasher = Rc::new(RefCell::new(Sha256::new()));
    let hashing = Rc::clone(&hasher);
    let chunks = req.stream()?.map(move |chunk| {
        if let Ok(bytes) = &chunk {
            hashing.borrow_mut().update(bytes);
        }
        chunk
    });
    let bucket = ctx.env.bucket("FILES")?;
    let stored = bucket
        .put(
            id.as_str(),
            Data::Stream(FixedLengthStream::wrap(chunks, size)),
        )
        .http_metadata(HttpMetadata {
            content_type: Some(content_type.clone()),
            ..Default::default()
        })
        .execute()
        .await;
    if stored.is_err() {
        // (R2 stores nothing of an upload that failed; the delete is for certainty.)
        let _ = bucket.delete(id.as_str()).await;
        return Err(ApiError::bad_request(
            "the upload ended before its Content-Length bytes arrived",
        ));
    }
    let sha256 = hex::encode(hasher.borrow_mut().finalize_reset());
    let file = FileRow {
        id: id.as_str().to_string(),
        chat_id: chat_id.as_str().to_string(),
        uploader_id: author.sender().as_str().to_string(),
        name,
        content_type,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        sha256,
        created_at: ctx.now_ms,
        project_id: None,
        is_member: 1,
    };
    if let Err(e) = files::insert(&ctx.db, &file).await {
        let _ = bucket.delete(id.as_str()).await;
        return Err(e);
    }
    Reply::created(&views::File::new(&file))
}

/// One round trip (the file's record), then the bytes straight from R2: with a signed URL (`exp`,
/// `sig`) and no header, or a participant's token or a key that reaches the chat.
pub async fn download(req: &Request, ctx: &Ctx, file_id: &FileId) -> Result<Reply> {
    let key = ctx.config.file_signing_key()?;
    let params: DownloadParams = query(req)?;
    let file = match (params.exp.as_deref(), params.sig.as_deref()) {
        (Some(exp), Some(sig)) => {
            // A signed URL is unauthenticated: it spends the client's budget.
            ctx.limits.spend_unauthenticated(&ctx.env).await?;
            check_signature(key, file_id.as_str(), exp, sig, ctx.now_ms / 1000)?;
            files::find(&ctx.db, None, file_id).await?
        }
        (None, None) => {
            let who = ctx.credential(req).await?;
            files::find(&ctx.db, Some(&who), file_id).await?
        }
        _ => {
            return Err(ApiError::unauthorized(
                "a signed file URL carries both exp and sig",
            ))
        }
    };
    let size = u64::try_from(file.size).unwrap_or(0);
    let etag = format!("\"{}\"", file.sha256);
    let mut reply = Reply::json_text(200, "")
        .with_header("ETag", etag.clone())
        .with_header("Cache-Control", "private, max-age=3600")
        .with_header("X-Content-Type-Options", "nosniff")
        .with_header("Accept-Ranges", "bytes")
        .with_header(
            "Content-Disposition",
            disposition(&file.content_type, &file.name),
        );
    let unchanged = header(req, "If-None-Match").is_some_and(|tags| {
        tags.split(',').any(|t| {
            t.trim() == etag || t.trim() == "*" || t.trim().trim_start_matches("W/") == etag
        })
    });
    if unchanged {
        reply.status = 304;
        return Ok(reply);
    }
    let range = match byte_range(header(req, "Range").as_deref(), size) {
        Some(Err(())) => {
            let refused = ApiError::new(416, "the range is outside the file");
            return Ok(crate::http::errors::reply(&refused, "", ctx.now_ms)
                .with_header("Content-Range", format!("bytes */{size}")));
        }
        Some(Ok(range)) => Some(range),
        None => None,
    };
    let bucket = ctx.env.bucket("FILES")?;
    let mut get = bucket.get(file.id.as_str());
    if let Some((first, last)) = range {
        get = get.range(worker::Range::OffsetWithLength {
            offset: first,
            length: last - first + 1,
        });
    }
    let object = get
        .execute()
        .await?
        .ok_or_else(|| ApiError::not_found("file"))?;
    let body = object
        .body()
        .ok_or_else(|| ApiError::not_found("file"))?
        .response_body()?;
    reply = reply.with_header("Content-Type", file.content_type.clone());
    reply.download = Some(body);
    Ok(match range {
        Some((first, last)) => {
            reply.status = 206;
            reply
                .with_header("Content-Range", format!("bytes {first}-{last}/{size}"))
                .with_header("Content-Length", (last - first + 1).to_string())
        }
        None => reply.with_header("Content-Length", size.to_string()),
    })
}
