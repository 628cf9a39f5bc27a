//! The helper's memory policy: an idle helper gives freed heap back to the system. Downloads and
//! D-Bus bursts leave large free blocks that glibc would otherwise keep for the life of the
//! process.

/// Return the allocator's free memory to the system.
pub fn give_back() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Give freed memory back to the system once the bus has been quiet for a second: a helper that
/// answered a hundred ListInstalled calls keeps no heap for them. No timer runs while nothing
/// happens; the stream only wakes this task when a message arrives.
pub async fn trim_when_quiet(mut messages: zbus::MessageStream) {
    use futures_util::StreamExt;
    let mut dirty = false;
    loop {
        let next = if dirty {
            match tokio::time::timeout(std::time::Duration::from_secs(1), messages.next()).await {
                Ok(m) => m,
                Err(_) => {
                    give_back();
                    dirty = false;
                    continue;
                }
            }
        } else {
            messages.next().await
        };
        match next {
            Some(_) => dirty = true,
            None => return,
        }
    }
}
