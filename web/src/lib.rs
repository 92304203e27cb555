//! The browser's shell of wgsl-autoencoder: the page's `Lab` object, a thin wrapper that
//! hands the page's calls to a [`session::Session`] over the core (the same graphs, WGSL
//! and op lists as the terminal's) and turns the answers into JavaScript values.
//!
//! Every method returns a promise. Calls run one at a time, in the order made: each
//! holds the session until its work (and its wait on the GPU) is done, so the page may
//! ask for pictures between training advances without the two interleaving.

pub mod session;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use futures_intrusive::sync::LocalMutex;
use js_sys::{Float32Array, Object, Promise, Reflect, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use wgsl_autoencoder::check::run::Plan;

use session::{Session, Settings};

thread_local! {
    /// The message of the last Rust panic: a panic reaches the page only as a
    /// `RuntimeError: unreachable`, so the page asks for this to say what happened.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|slot| *slot.borrow_mut() = Some(info.to_string()));
    }));
}

/// The message of the last panic, if one happened (then the page must restart).
#[wasm_bindgen(js_name = lastPanic)]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|slot| slot.borrow().clone())
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

fn json<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(js_error)?;
    js_sys::JSON::parse(&text)
}

/// An object of the given fields.
fn object(fields: &[(&str, JsValue)]) -> Result<JsValue, JsValue> {
    let o = Object::new();
    for (name, value) in fields {
        Reflect::set(&o, &JsValue::from_str(name), value)?;
    }
    Ok(o.into())
}

fn floats(values: &[f32]) -> JsValue {
    Float32Array::from(values).into()
}

fn settings(text: &str) -> Result<Settings, JsValue> {
    serde_json::from_str(text).map_err(|e| js_error(format!("the page's settings: {e}")))
}

/// The page's handle on the session.
#[wasm_bindgen]
pub struct Lab {
    session: Rc<LocalMutex<Session>>,
    lost: Arc<Mutex<Option<String>>>,
    /// The quick check's plan, shared with each `checkGroup` call (not copied).
    plan: Rc<RefCell<Option<Rc<Plan>>>>,
}

impl Default for Lab {
    fn default() -> Self {
        Lab::new()
    }
}

#[wasm_bindgen]
impl Lab {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Lab {
        let session = Session::default();
        Lab {
            lost: session.lost_handle(),
            session: Rc::new(LocalMutex::new(session, true)),
            plan: Rc::new(RefCell::new(None)),
        }
    }

    /// Runs `work` on the session once the calls before it are done.
    fn call<F, Fut>(&self, work: F) -> Promise
    where
        F: FnOnce(Rc<LocalMutex<Session>>) -> Fut + 'static,
        Fut: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        future_to_promise(work(self.session.clone()))
    }

    /// Opens the browser's WebGPU adapter: its name, backend, timestamps and limits.
    #[wasm_bindgen(js_name = openGpu)]
    pub fn open_gpu(&self) -> Promise {
        self.call(|s| async move {
            let info = s.lock().await.open_gpu().await.map_err(js_error)?;
            json(&info)
        })
    }

    /// Why the GPU device was lost (a reason and the browser's message), or null.
    #[wasm_bindgen(js_name = deviceLost)]
    pub fn device_lost(&self) -> Option<String> {
        self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Destroys the GPU device on purpose (what the tests of the page's recovery do).
    #[wasm_bindgen(js_name = loseDevice)]
    pub fn lose_device(&self) -> Promise {
        self.call(|s| async move {
            s.lock().await.lose_device();
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Checks and keeps MNIST from its four `.gz` files' bytes (train images, train
    /// labels, test images, test labels): the counts of training and test images.
    #[wasm_bindgen(js_name = loadData)]
    pub fn load_data(
        &self,
        train_images: Vec<u8>,
        train_labels: Vec<u8>,
        test_images: Vec<u8>,
        test_labels: Vec<u8>,
    ) -> Promise {
        self.call(|s| async move {
            let files = [&train_images[..], &train_labels, &test_images, &test_labels];
            let (train, test) = s.lock().await.load_data(files, None).map_err(js_error)?;
            object(&[("train", train.into()), ("test", test.into())])
        })
    }

    /// Builds the model the settings (JSON of the page's controls) describe.
    pub fn start(&self, settings_json: String) -> Promise {
        self.call(|s| async move {
            let settings = settings(&settings_json)?;
            s.lock().await.start(&settings).await.map_err(js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// One bounded piece of training: where the run is.
    pub fn advance(&self) -> Promise {
        self.call(|s| async move {
            let update = s.lock().await.advance().await.map_err(js_error)?;
            json(&update)
        })
    }

    /// Test digits and their reconstructions now, or null during an evaluation.
    pub fn examples(&self) -> Promise {
        self.call(|s| async move {
            match s.lock().await.examples().await.map_err(js_error)? {
                Some((labels, clean, rebuilt)) => object(&[
                    ("labels", Uint32Array::from(&labels[..]).into()),
                    ("clean", floats(&clean)),
                    ("rebuilt", floats(&rebuilt)),
                ]),
                None => Ok(JsValue::NULL),
            }
        })
    }

    /// The test codes in the latent plane: `xy` (x, y pairs) and their `labels`.
    pub fn latent(&self) -> Promise {
        self.call(|s| async move {
            let (xy, labels) = s.lock().await.latent().map_err(js_error)?;
            object(&[
                ("xy", floats(&xy)),
                ("labels", Uint32Array::from(&labels[..]).into()),
            ])
        })
    }

    /// The digit decoded at a point of the latent plane (784 values in 0..1).
    #[wasm_bindgen(js_name = decodePoint)]
    pub fn decode_point(&self, x: f64, y: f64) -> Promise {
        self.call(move |s| async move {
            let image = s.lock().await.decode_point(x, y).await.map_err(js_error)?;
            Ok(floats(&image))
        })
    }

    /// The digits between two test images' codes.
    pub fn interpolate(&self, a: usize, b: usize) -> Promise {
        self.call(move |s| async move {
            let images = s.lock().await.interpolate(a, b).await.map_err(js_error)?;
            Ok(floats(&images))
        })
    }

    /// A drawn digit's reconstruction, and its point in the latent plane (if drawn yet).
    #[wasm_bindgen(js_name = reconstructDrawn)]
    pub fn reconstruct_drawn(&self, pixels: Vec<u8>) -> Promise {
        self.call(move |s| async move {
            let (rebuilt, point) = s
                .lock()
                .await
                .reconstruct_drawn(&pixels)
                .await
                .map_err(js_error)?;
            let (x, y) = match point {
                Some((x, y)) => (JsValue::from_f64(x), JsValue::from_f64(y)),
                None => (JsValue::NULL, JsValue::NULL),
            };
            object(&[("rebuilt", floats(&rebuilt)), ("x", x), ("y", y)])
        })
    }

    /// The weights as the bytes of `model.safetensors`.
    pub fn weights(&self) -> Promise {
        self.call(|s| async move {
            let bytes = s.lock().await.weights().await.map_err(js_error)?;
            Ok(Uint8Array::from(&bytes[..]).into())
        })
    }

    /// Opens a `model.safetensors` on `backend` (`gpu` or `cpu`) and evaluates it.
    #[wasm_bindgen(js_name = openWeights)]
    pub fn open_weights(&self, bytes: Vec<u8>, backend: String) -> Promise {
        self.call(move |s| async move {
            let opened = s
                .lock()
                .await
                .open_weights(&bytes, &backend)
                .await
                .map_err(js_error)?;
            json(&opened)
        })
    }

    /// The quick check's groups (entry point, variant, cases), kept for `checkGroup`.
    #[wasm_bindgen(js_name = checkPlan)]
    pub fn check_plan(&self) -> Promise {
        let kept = self.plan.clone();
        self.call(move |s| async move {
            let plan = s.lock().await.check_plan().map_err(js_error)?;
            let groups: Vec<serde_json::Value> = plan
                .groups
                .iter()
                .map(|g| {
                    serde_json::json!({
                        "entry": g.kernel, "variant": g.variant, "cases": g.cases.len()
                    })
                })
                .collect();
            *kept.borrow_mut() = Some(Rc::new(plan));
            json(&groups)
        })
    }

    /// Runs group `index` of the plan `checkPlan` made: its row of the check's table.
    #[wasm_bindgen(js_name = checkGroup)]
    pub fn check_group(&self, index: usize) -> Promise {
        let kept = self.plan.clone();
        self.call(move |s| async move {
            let plan = kept
                .borrow()
                .clone()
                .ok_or_else(|| js_error("call checkPlan first"))?;
            let row = s
                .lock()
                .await
                .check_group(&plan, index)
                .await
                .map_err(js_error)?;
            json(&row)
        })
    }

    /// Times `steps` training steps of the settings' model, dispatch by dispatch.
    pub fn profile(&self, settings_json: String, steps: usize) -> Promise {
        self.call(move |s| async move {
            let settings = settings(&settings_json)?;
            let report = s
                .lock()
                .await
                .profile(&settings, steps)
                .await
                .map_err(js_error)?;
            json(&report)
        })
    }
}
