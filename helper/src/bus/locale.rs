//! The caller's language at the D-Bus edge. `SetLocale` records one per connection (keyed by its
//! unique name, dropped when that name leaves the bus); an options dictionary's `locale` key sets
//! it for one call. [`Localised`] wraps an interface so that each of its method calls runs in the
//! caller's [`Lang`]: the methods themselves know nothing of it, and a method added later is
//! covered too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use futures_util::StreamExt;
use zbus::message::{Header, Message};
use zbus::names::{InterfaceName, MemberName};
use zbus::object_server::{DispatchResult2, Interface, ObjectServer, SignalEmitter};
use zbus::zvariant::{OwnedValue, Value};
use zbus::{fdo, Connection};

use super::to_dbus;
use crate::lang::{self, Lang};

/// The options key that sets the language of one call.
pub const OPTION: &str = snapshelf_dbus::types::LOCALE_OPTION;

/// Each connection's language, as it set it with `SetLocale`.
#[derive(Default)]
pub(super) struct Locales {
    by_name: Mutex<HashMap<String, Lang>>,
}

impl Locales {
    /// The table, emptied of each connection as it leaves the bus.
    pub(super) fn new(conn: &Connection) -> Arc<Locales> {
        let locales = Arc::new(Locales::default());
        tokio::spawn(forget_gone(conn.clone(), Arc::downgrade(&locales)));
        locales
    }

    pub(super) fn set(&self, sender: &str, lang: Lang) {
        self.table().insert(sender.to_string(), lang);
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lang>> {
        self.by_name.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table().len()
    }

    /// The language of one call: its options' `locale`, else its connection's, else the
    /// service's own.
    fn for_call(&self, msg: &Message) -> Result<Lang, snapshelf_dbus::Error> {
        if let Some(l) = options_locale(msg)? {
            return Lang::of(&l).map_err(to_dbus);
        }
        let hdr = msg.header();
        let own = hdr
            .sender()
            .and_then(|s| self.table().get(s.as_str()).cloned());
        Ok(own.unwrap_or_else(lang::current))
    }
}

/// Drop each connection's language when its unique name leaves the bus (only the losses are
/// asked for: `arg2`, the new owner, empty).
async fn forget_gone(conn: Connection, locales: Weak<Locales>) {
    let stream = async {
        let dbus = fdo::DBusProxy::new(&conn).await?;
        dbus.receive_name_owner_changed_with_args(&[(2, "")]).await
    };
    let mut stream = match stream.await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot follow names leaving the bus: languages are kept");
            return;
        }
    };
    while let Some(signal) = stream.next().await {
        let Some(locales) = locales.upgrade() else {
            return;
        };
        if let Ok(args) = signal.args() {
            if args.new_owner().is_none() {
                locales.table().remove(args.name().as_str());
            }
        }
    }
}

/// The `locale` of a call's options (its last argument when that is an `a{sv}`), checked to be a
/// string.
fn options_locale(msg: &Message) -> Result<Option<String>, snapshelf_dbus::Error> {
    type Options = HashMap<String, OwnedValue>;
    let body = msg.body();
    // The contract's methods with options: (s, a{sv}), (as, a{sv}), (h, a{sv}).
    let signature = body.signature().to_string();
    // A body's signature is its arguments', with or without the parentheses of their tuple.
    let args = signature
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(&signature);
    let options = match args {
        "sa{sv}" => body.deserialize::<(String, Options)>().map(|b| b.1),
        "asa{sv}" => body.deserialize::<(Vec<String>, Options)>().map(|b| b.1),
        "ha{sv}" => body
            .deserialize::<(zbus::zvariant::Fd<'_>, Options)>()
            .map(|b| b.1),
        _ => return Ok(None),
    };
    // A malformed body is the method's own parsing to report.
    let Ok(mut options) = options else {
        return Ok(None);
    };
    let found = options.remove(OPTION);
    match found.map(String::try_from) {
        None => Ok(None),
        Some(Ok(s)) => Ok(Some(s)),
        Some(Err(_)) => Err(to_dbus(crate::error::Error::invalid(lang::gettext(
            "option \"locale\" must be of type s",
        )))),
    }
}

/// An interface whose method calls each run in the caller's language.
pub(super) struct Localised<I> {
    pub(super) inner: I,
    pub(super) locales: Arc<Locales>,
}

impl<I> Localised<I> {
    fn wrap<'call>(
        locales: &Locales,
        connection: &'call Connection,
        msg: &'call Message,
        result: DispatchResult2<'call>,
    ) -> DispatchResult2<'call> {
        let DispatchResult2::Async(call) = result else {
            return result;
        };
        match locales.for_call(msg) {
            Ok(lang) => DispatchResult2::Async(Box::pin(lang::scope(lang, call))),
            // Refused before the method runs: nothing of it happens.
            Err(e) => DispatchResult2::Async(Box::pin(async move {
                drop(call);
                connection.reply_dbus_error(&msg.header(), e).await?;
                Ok(())
            })),
        }
    }
}

#[async_trait::async_trait]
impl<I: Interface> Interface for Localised<I> {
    fn name() -> InterfaceName<'static> {
        I::name()
    }

    fn spawn_tasks_for_methods(&self) -> bool {
        self.inner.spawn_tasks_for_methods()
    }

    async fn get(
        &self,
        property_name: &str,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<OwnedValue>> {
        let get = self
            .inner
            .get(property_name, server, connection, header, emitter);
        get.await
    }

    async fn get_all(
        &self,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> fdo::Result<HashMap<String, OwnedValue>> {
        self.inner
            .get_all(server, connection, header, emitter)
            .await
    }

    fn set<'call>(
        &'call self,
        property_name: &'call str,
        value: &'call Value<'_>,
        server: &'call ObjectServer,
        connection: &'call Connection,
        header: Option<&'call Header<'_>>,
        emitter: &'call SignalEmitter<'_>,
    ) -> DispatchResult2<'call> {
        self.inner
            .set(property_name, value, server, connection, header, emitter)
    }

    async fn set_mut(
        &mut self,
        property_name: &str,
        value: &Value<'_>,
        server: &ObjectServer,
        connection: &Connection,
        header: Option<&Header<'_>>,
        emitter: &SignalEmitter<'_>,
    ) -> Option<fdo::Result<()>> {
        let set = self
            .inner
            .set_mut(property_name, value, server, connection, header, emitter);
        set.await
    }

    fn call<'call>(
        &'call self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult2<'call> {
        let result = self.inner.call(server, connection, msg, name);
        Self::wrap(&self.locales, connection, msg, result)
    }

    fn call_mut<'call>(
        &'call mut self,
        server: &'call ObjectServer,
        connection: &'call Connection,
        msg: &'call Message,
        name: MemberName<'call>,
    ) -> DispatchResult2<'call> {
        let locales = self.locales.clone();
        let result = self.inner.call_mut(server, connection, msg, name);
        Self::wrap(&locales, connection, msg, result)
    }

    fn introspect_to_writer(&self, writer: &mut dyn std::fmt::Write, level: usize) {
        self.inner.introspect_to_writer(writer, level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(body: &(impl serde::Serialize + zbus::zvariant::DynamicType)) -> Message {
        Message::method_call("/io/github/snapshelf/Helper1", "Install")
            .unwrap()
            .sender(":1.7")
            .unwrap()
            .build(body)
            .unwrap()
    }

    fn options(locale: Value<'static>) -> HashMap<String, OwnedValue> {
        HashMap::from([(OPTION.to_string(), OwnedValue::try_from(locale).unwrap())])
    }

    #[tokio::test]
    async fn a_call_speaks_its_options_locale_then_its_connections() {
        let locales = Locales::default();
        let names = vec!["a".to_string()];
        let with = call(&(names.clone(), options(Value::from("de_DE.UTF-8"))));
        assert_eq!(locales.for_call(&with).unwrap().locale(), "de_DE.UTF-8");
        locales.set(":1.7", Lang::of("fr").unwrap());
        let without = call(&(names.clone(), HashMap::<String, OwnedValue>::new()));
        assert_eq!(locales.for_call(&without).unwrap().locale(), "fr");
        assert_eq!(locales.for_call(&with).unwrap().locale(), "de_DE.UTF-8");
        assert_eq!(locales.len(), 1);
    }

    #[tokio::test]
    async fn a_bad_options_locale_is_refused() {
        let locales = Locales::default();
        let names = vec!["a".to_string()];
        let e = locales
            .for_call(&call(&(names.clone(), options(Value::from(3u32)))))
            .unwrap_err();
        assert_eq!(e.kind(), snapshelf_dbus::ErrorKind::InvalidArgument);
        let e = locales
            .for_call(&call(&(names, options(Value::from("../etc")))))
            .unwrap_err();
        assert!(e.message().contains("not a locale name"), "{}", e.message());
    }
}
