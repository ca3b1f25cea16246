package encoder

/*
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
*/
import "C"

import "fmt"

// LibraryVersions describes the libav* libraries this binary runs with (not the headers it
// was built against), e.g. "libavcodec 59.37.100, libswscale 6.7.100, libavutil 57.28.100".
func LibraryVersions() string {
	v := func(name string, n C.uint) string {
		return fmt.Sprintf("%s %d.%d.%d", name, n>>16, (n>>8)&0xff, n&0xff)
	}
	return v("libavcodec", C.avcodec_version()) + ", " + v("libswscale", C.swscale_version()) +
		", " + v("libavutil", C.avutil_version())
}
