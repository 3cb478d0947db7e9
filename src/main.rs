fn main() {
    println!("siloscope {}", env!("CARGO_PKG_VERSION"));
}
