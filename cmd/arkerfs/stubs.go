package main

// Placeholders until each command lands in its own file.
