//! Prints `action.yml`'s `permission-*` inputs; `make action` puts them
//! between the markers.

fn main() {
    print!("{}", action_tests::permission_inputs());
}
