/*
 * MecTaskHeader: what every packet of an offloaded task (and of its result) carries.
 *
 * A task's upload is split into packets; each carries this header so the edge server can
 * reassemble it (task id, total bytes) and knows its work (cycles), where to send the result
 * (result bytes, back to the packet's source) and when the task left the device (for the
 * end-to-end response time).
 */
#ifndef XRMARL_MEC_TASK_HEADER_H
#define XRMARL_MEC_TASK_HEADER_H

#include "ns3/header.h"
#include "ns3/nstime.h"

namespace ns3
{

class MecTaskHeader : public Header
{
  public:
    static TypeId GetTypeId();
    TypeId GetInstanceTypeId() const override;
    uint32_t GetSerializedSize() const override;
    void Serialize(Buffer::Iterator start) const override;
    uint32_t Deserialize(Buffer::Iterator start) override;
    void Print(std::ostream& os) const override;

    /// what the packet is: part of a task's upload, of its result, or the server's refusal
    enum Kind : uint32_t
    {
        UPLOAD = 0,
        RESULT = 1,
        REJECTED = 2,
        ACCEPTED = 3, ///< the upload arrived whole and the task joined the queue
    };

    uint32_t m_kind{UPLOAD};
    uint32_t m_taskId{0};      ///< unique per device
    uint32_t m_device{0};      ///< the device (agent) index
    uint32_t m_taskBytes{0};   ///< bytes of the whole upload (headers included)
    uint32_t m_resultBytes{0}; ///< bytes of the result sent back
    uint64_t m_cycles{0};      ///< CPU cycles the task needs at the server
    Time m_created;            ///< when the task was created at the device
    Time m_deadline;           ///< absolute deadline (0: none); arriving later it is refused
    Time m_stamp;              ///< server replies: when the server sent the reply
    uint32_t m_memoryMb{0};    ///< memory the task holds at the server while in the system
};

} // namespace ns3

#endif
