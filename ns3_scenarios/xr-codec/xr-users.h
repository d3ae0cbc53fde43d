/*
 * The XR users of xr-codec (--users): one agent each, with a type (AR, VR, CG), a kind
 * (xr, cg), a codec-rate range and, once the scenario is built, its traffic and meters.
 */
#ifndef XR_USERS_H
#define XR_USERS_H

#include "xr-traffic.h"
#include "xrmarl-ran.h"
#include "xrmarl-rlc-buffer.h"

#include "ns3/net-device.h"
#include "ns3/node.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ns3
{

/// One XR user: agent id, type (AR, VR, CG), kind (xr, cg), codec range (Mbps), and its
/// node, senders and meters once built.
struct XrUser
{
    std::string id;
    std::string type;
    std::string kind;
    double rateMin{0};
    double rateMax{0};
    Ptr<Node> node;
    Ptr<NetDevice> dev;
    Ptr<XrUeMonitor> monitor;
    Ptr<XrMarlRlcBufferTracker> rlc;
    Ptr<XrMarlDlSinrMeter> sinr; ///< the UE's downlink SINR per window
    Ptr<XrSender> video;
    std::vector<Ptr<XrSender>> side; ///< AR: audio and pose flows
    double startDistance{0};

    /// Codec rate (Mbps) of action k out of nRates, evenly spaced in [rateMin, rateMax].
    double RateOf(uint32_t k, uint32_t nRates) const
    {
        return rateMin + (rateMax - rateMin) * k / (nRates - 1);
    }
};

/**
 * Parse --users: comma-separated "[ID=]TYPE[:MIN:MAX]", TYPE one of AR, VR, CG, MIN:MAX the
 * codec range in Mbps (default: `ranges[TYPE]`). A user without ID= is named after its type,
 * numbered (VR1, VR2, ...) when the type occurs more than once, the rule xr_codec_marl's
 * parse_users follows. Returns "" or what is wrong.
 */
std::string ParseXrUsers(const std::string& spec,
                         const std::map<std::string, std::pair<double, double>>& ranges,
                         std::vector<XrUser>& users);

} // namespace ns3

#endif // XR_USERS_H
