//! libprocess: an actor runtime in the spirit of Mesos's libprocess.
