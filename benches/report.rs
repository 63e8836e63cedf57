//! `cargo bench -p etcd-autopsy-benches --bench report`: `report`, and `report --html`
//! (the same plus writing the HTML page to a temporary file), on the bench db (see the
//! `prefixes` bench for the setup).

#[path = "prefixes.rs"]
mod prefixes;

fn main() {
    let html = std::env::temp_dir().join(format!("etcd-autopsy-bench-{}.html", std::process::id()));
    let h = html.display().to_string();
    prefixes::run(&[&["report", "{}"], &["report", "--html", &h, "{}"]]);
    std::fs::remove_file(&html).ok();
}
