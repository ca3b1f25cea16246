// cplusplus.cc: edgeplay.h from C++, as an engine plugin (Unreal, Godot) includes it: it must
// compile without warnings and link against the SDK compiled as C (extern "C").
#include "edgeplay.h"

#include <cstdio>
#include <cstring>

int main()
{
    ep_config cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.audio = 1;
    ep_game *g = nullptr;
    char why[EP_DETAIL_SIZE];
    ep_error err = ep_open_fd(-1, &cfg, &g, why, sizeof why);
    std::printf("%s %s %d\n", ep_error_name(err), ep_strerror(err), g == nullptr);
    ep_input_event ev;
    const uint8_t rec[13] = {1, EP_KEY_DOWN, 1, 0, 0, 0, 0, 0, 0, 0, EP_KEY_SPACE, 0, 0};
    err = ep_decode_input(rec, sizeof rec, &ev);
    std::printf("%s %u\n", ep_error_name(err), ev.code);
    return ep_close(g);
}
