//! A D-Bus service for test snaps (a C program against the host's libdbus, built by the tests
//! with `sandbox::compile_with_libdbus`), as snapd's test-snapd-dbus-service.

/// Owns the name its second argument gives on the bus its first names (`system` or `session`)
/// and answers every method call with "hello from <its pid>", as snapd's test-snapd-dbus-service.
pub const ACTIVATED_C: &str = r#"
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    DBusError err;
    dbus_error_init(&err);
    DBusConnection *c = dbus_bus_get(strcmp(argv[1], "system") == 0 ? 1 : 0, &err);
    if (!c) { fprintf(stderr, "bus: %s\n", err.name); return 1; }
    if (dbus_bus_request_name(c, argv[2], 4 /* DO_NOT_QUEUE */, &err) != 1) {
        fprintf(stderr, "cannot own %s: %s\n", argv[2], err.name ? err.name : "taken");
        return 1;
    }
    char text[64];
    snprintf(text, sizeof text, "hello from %d", (int)getpid());
    const char *s = text;
    /* The call that activated it came with the name: it is queued before the first read. */
    do {
        DBusMessage *m;
        while ((m = dbus_connection_pop_message(c))) {
            if (dbus_message_get_type(m) == 1 /* a method call */) {
                DBusMessage *reply = dbus_message_new_method_return(m);
                dbus_message_append_args(reply, 's', &s, 0);
                dbus_connection_send(c, reply, 0);
                dbus_connection_flush(c);
                dbus_message_unref(reply);
            }
            dbus_message_unref(m);
        }
    } while (dbus_connection_read_write(c, -1));
    return 0;
}
"#;
