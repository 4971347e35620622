// Package link is ldgo's link editor (`ldgo link`, or ldgo run as `ld`):
// it takes GNU ld's command line and writes an executable or a shared
// library, as GNU ld would. The design is described at length below.
package link
