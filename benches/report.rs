//! `cargo bench -p etcd-autopsy-benches --bench report`: `report`, and `report --html`
//! (the same plus writing the HTML page), on the bench db (see the `prefixes` bench for
//! the setup).

#[path = "prefixes_harness.rs"]
mod harness;

fn main() {
    harness::bench(&["report", "report-html"]);
}
