//! A report page opened in headless Chromium over the DevTools protocol: what it logged
//! as errors, a screenshot, and questions to its DOM.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headless_chrome::protocol::cdp::Log::LogEntryLevel;
use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::protocol::cdp::Runtime::ConsoleAPICalledEventTypeOption as Console;
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::{Browser, LaunchOptions, Tab};

/// A page loaded in its own headless browser (closed on drop).
pub struct Page {
    tab: Arc<Tab>,
    errors: Arc<Mutex<Vec<String>>>,
    _browser: Browser,
}

impl Page {
    /// Opens `file` in a window of 1200×1400 pixels and waits for it to load. Console
    /// errors and assertions, uncaught exceptions and the browser's own error entries
    /// (a failed request, a refused script) are gathered from before the page loads.
    pub fn open(file: &Path) -> Page {
        let options = LaunchOptions::default_builder()
            .path(Some(dcp_tests::chromium()))
            .headless(true)
            // Root in a container has no user namespace for Chromium's sandbox.
            .sandbox(false)
            .window_size(Some((1200, 1400)))
            .idle_browser_timeout(Duration::from_secs(120))
            .args(vec![
                "--remote-debugging-address=127.0.0.1".as_ref(),
                "--hide-scrollbars".as_ref(),
            ])
            .build()
            .unwrap();
        let browser = Browser::new(options).unwrap();
        let tab = browser.new_tab().unwrap();
        let errors = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&errors);
        tab.add_event_listener(Arc::new(move |event: &Event| {
            let error = match event {
                Event::RuntimeConsoleAPICalled(e)
                    if matches!(e.params.Type, Console::Error | Console::Assert) =>
                {
                    Some(format!("console.{:?}: {:?}", e.params.Type, e.params.args))
                }
                Event::RuntimeExceptionThrown(e) => Some(format!(
                    "exception: {}",
                    e.params
                        .exception_details
                        .exception
                        .as_ref()
                        .and_then(|x| x.description.clone())
                        .unwrap_or_else(|| e.params.exception_details.text.clone())
                )),
                Event::LogEntryAdded(e) if e.params.entry.level == LogEntryLevel::Error => {
                    Some(format!("log: {}", e.params.entry.text))
                }
                _ => None,
            };
            if let Some(error) = error {
                seen.lock().unwrap().push(error);
            }
        }))
        .unwrap();
        tab.enable_runtime().unwrap();
        tab.enable_log().unwrap();
        let url = format!("file://{}", file.canonicalize().unwrap().display());
        tab.navigate_to(&url)
            .unwrap()
            .wait_until_navigated()
            .unwrap();
        Page {
            tab,
            errors,
            _browser: browser,
        }
    }

    /// The errors logged so far.
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }

    /// The value of the JavaScript `expression` (JSON-serialisable).
    pub fn eval(&self, expression: &str) -> serde_json::Value {
        let wrapped = format!("JSON.stringify({expression})");
        let value = self.tab.evaluate(&wrapped, false).unwrap().value;
        let text = value.and_then(|v| v.as_str().map(str::to_owned));
        serde_json::from_str(&text.unwrap_or_else(|| "null".into())).unwrap()
    }

    /// A PNG of the whole page.
    pub fn screenshot(&self) -> Vec<u8> {
        self.tab
            .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
            .unwrap()
    }
}

/// Pixels of a PNG that differ from its top-left pixel (the page's background), and all.
pub fn drawn_pixels(png_bytes: &[u8]) -> (usize, usize) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let background = pixels[0];
    let drawn = pixels.iter().filter(|p| **p != background).count();
    (drawn, pixels.len())
}
