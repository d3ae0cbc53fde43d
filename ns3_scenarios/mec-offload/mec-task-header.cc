#include "mec-task-header.h"

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(MecTaskHeader);

TypeId
MecTaskHeader::GetTypeId()
{
    static TypeId tid = TypeId("ns3::MecTaskHeader")
                            .SetParent<Header>()
                            .SetGroupName("XrMarl")
                            .AddConstructor<MecTaskHeader>();
    return tid;
}

TypeId
MecTaskHeader::GetInstanceTypeId() const
{
    return GetTypeId();
}

uint32_t
MecTaskHeader::GetSerializedSize() const
{
    return 6 * 4 + 8 + 3 * 8;
}

void
MecTaskHeader::Serialize(Buffer::Iterator i) const
{
    i.WriteHtonU32(m_kind);
    i.WriteHtonU32(m_taskId);
    i.WriteHtonU32(m_device);
    i.WriteHtonU32(m_taskBytes);
    i.WriteHtonU32(m_resultBytes);
    i.WriteHtonU64(m_cycles);
    i.WriteHtonU64(static_cast<uint64_t>(m_created.GetNanoSeconds()));
    i.WriteHtonU64(static_cast<uint64_t>(m_deadline.GetNanoSeconds()));
    i.WriteHtonU64(static_cast<uint64_t>(m_stamp.GetNanoSeconds()));
    i.WriteHtonU32(m_memoryMb);
}

uint32_t
MecTaskHeader::Deserialize(Buffer::Iterator start)
{
    Buffer::Iterator i = start;
    m_kind = i.ReadNtohU32();
    m_taskId = i.ReadNtohU32();
    m_device = i.ReadNtohU32();
    m_taskBytes = i.ReadNtohU32();
    m_resultBytes = i.ReadNtohU32();
    m_cycles = i.ReadNtohU64();
    m_created = NanoSeconds(static_cast<int64_t>(i.ReadNtohU64()));
    m_deadline = NanoSeconds(static_cast<int64_t>(i.ReadNtohU64()));
    m_stamp = NanoSeconds(static_cast<int64_t>(i.ReadNtohU64()));
    m_memoryMb = i.ReadNtohU32();
    return GetSerializedSize();
}

void
MecTaskHeader::Print(std::ostream& os) const
{
    os << "kind=" << m_kind << " task=" << m_taskId << " device=" << m_device << " bytes=" << m_taskBytes
       << " result=" << m_resultBytes << " cycles=" << m_cycles << " created=" << m_created
       << " deadline=" << m_deadline << " stamp=" << m_stamp << " memoryMb=" << m_memoryMb;
}

} // namespace ns3
